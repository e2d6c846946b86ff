/**
 * The runs table of the sidebar: virtualised (only the rows in view exist in the DOM, so ten
 * thousand runs cost what forty do), sortable by clicking a header, nested runs as a tree,
 * multi-select with click, ctrl/cmd-click and shift-click, more pages loaded on scrolling.
 */

import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { formatDuration, formatNumber, formatStart, formatTime, runDuration } from '../format';
import { IColumn, IDisplayRow, RunsModel, SelectMode, columnId } from '../model';
import { IRunRow } from '../tokens';
import { StatusBadge, useSignal } from './common';

/** Height of one row in pixels (the virtualisation relies on it being fixed). */
export const ROW_HEIGHT = 24;
/** Rows rendered above and below the visible ones, so fast scrolling shows no gaps. */
const OVERSCAN = 12;

interface IFixedColumn {
  id: string;
  label: string;
  width: number;
  sortable: boolean;
  title: string;
}

const FIXED: IFixedColumn[] = [
  { id: 'name', label: 'Name', width: 150, sortable: true, title: 'Run name' },
  { id: 'status', label: 'Status', width: 74, sortable: true, title: 'Run status (live)' },
  { id: 'start', label: 'Start', width: 104, sortable: true, title: 'Start time' },
  {
    id: 'duration',
    label: 'Duration',
    width: 66,
    sortable: false,
    title: 'Duration (the server cannot sort by it)'
  }
];
const SELECT_WIDTH = 26;
const DATA_WIDTH = 86;

function cellValue(run: IRunRow, column: IColumn): { text: string; title: string } {
  if (column.kind === 'metrics') {
    const value = run.metrics[column.key];
    return value === undefined
      ? { text: '', title: '' }
      : { text: formatNumber(value), title: String(value) };
  }
  const value = (column.kind === 'params' ? run.params : run.tags)[column.key];
  return { text: value ?? '', title: value ?? '' };
}

function selectMode(event: React.MouseEvent): SelectMode {
  if (event.shiftKey) {
    return 'range';
  }
  return event.ctrlKey || event.metaKey ? 'toggle' : 'single';
}

/** The table of runs; `onOpen` opens a run's view. */
export function RunTable(props: {
  model: RunsModel;
  onOpen: (runId: string) => void;
}): JSX.Element {
  const { model } = props;
  useSignal(model.changed);
  const scroller = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [height, setHeight] = React.useState(400);
  const [, setTick] = React.useState(0);

  React.useEffect(() => {
    const node = scroller.current;
    if (!node) {
      return;
    }
    const observer = new ResizeObserver(() => setHeight(node.clientHeight));
    observer.observe(node);
    setHeight(node.clientHeight);
    return () => observer.disconnect();
  }, []);

  const rows = model.display;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const visible = rows.slice(first, last);
  const anyRunning = visible.some(r => r.run.status === 'RUNNING');

  // durations of running runs count up while they are in view
  React.useEffect(() => {
    if (!anyRunning) {
      return;
    }
    const timer = window.setInterval(() => setTick(t => t + 1), 1000);
    return () => window.clearInterval(timer);
  }, [anyRunning]);

  // another experiment, filter or sort: back to the top
  React.useEffect(() => {
    if (scroller.current) {
      scroller.current.scrollTop = 0;
    }
    setScrollTop(0);
  }, [model.generation]);

  // near the end of what is loaded: fetch the next page
  React.useEffect(() => {
    if (model.hasMore && !model.loading && last >= rows.length - OVERSCAN * 2) {
      void model.loadMore();
    }
  }, [last, rows.length, model.hasMore, model.loading]);

  const now = Date.now();
  const columns = model.columns;
  // the name column takes whatever room the sidebar has beyond the fixed widths
  const template = [
    `${SELECT_WIDTH}px`,
    ...FIXED.map(c => (c.id === 'name' ? `minmax(${c.width}px, 1fr)` : `${c.width}px`)),
    ...columns.map(() => `${DATA_WIDTH}px`)
  ].join(' ');
  const width =
    SELECT_WIDTH + FIXED.reduce((sum, c) => sum + c.width, 0) + columns.length * DATA_WIDTH;
  const sort = model.sort;
  const allSelected = rows.length > 0 && model.selected.length === model.rows.length;

  const sortMark = (id: string) =>
    sort?.column === id ? (
      <span className="jp-mltrack-RunTable-sort">{sort.ascending ? '▲' : '▼'}</span>
    ) : null;

  const onKeyDown = (event: React.KeyboardEvent) => {
    const ids = rows.map(r => r.run.run_id);
    const selected = model.selected;
    const current = selected.length ? ids.indexOf(selected[selected.length - 1]) : -1;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = Math.max(
        0,
        Math.min(ids.length - 1, current + (event.key === 'ArrowDown' ? 1 : -1))
      );
      if (ids[next]) {
        model.select(ids[next], event.shiftKey ? 'range' : 'single');
        const node = scroller.current;
        if (node) {
          const top = next * ROW_HEIGHT;
          if (top < node.scrollTop) {
            node.scrollTop = top;
          } else if (top + ROW_HEIGHT * 2 > node.scrollTop + node.clientHeight) {
            node.scrollTop = top + ROW_HEIGHT * 2 - node.clientHeight;
          }
        }
      }
    } else if (event.key === 'Enter' && current >= 0) {
      props.onOpen(ids[current]);
    } else if ((event.key === 'a' || event.key === 'A') && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      model.selectAll(true);
    }
  };

  return (
    <div
      className="jp-mltrack-RunTable"
      ref={scroller}
      tabIndex={0}
      onScroll={e => setScrollTop(e.currentTarget.scrollTop)}
      onKeyDown={onKeyDown}
      role="grid"
      aria-rowcount={model.total}
    >
      <div
        className="jp-mltrack-RunTable-header"
        style={{ gridTemplateColumns: template, minWidth: width }}
        role="row"
      >
        <div className="jp-mltrack-RunTable-cell jp-mltrack-RunTable-select">
          <input
            type="checkbox"
            title="Select all loaded runs"
            checked={allSelected}
            onChange={e => model.selectAll(e.target.checked)}
          />
        </div>
        {FIXED.map(c => (
          <div
            key={c.id}
            role="columnheader"
            className={
              'jp-mltrack-RunTable-cell jp-mltrack-RunTable-head' +
              (c.sortable ? ' jp-mod-sortable' : '')
            }
            data-column={c.id}
            title={c.title}
            onClick={c.sortable ? () => void model.toggleSort(c.id) : undefined}
          >
            {c.label}
            {sortMark(c.id)}
          </div>
        ))}
        {columns.map(c => {
          const id = columnId(c);
          return (
            <div
              key={id}
              role="columnheader"
              className={`jp-mltrack-RunTable-cell jp-mltrack-RunTable-head jp-mod-sortable jp-mltrack-kind-${c.kind}`}
              data-column={id}
              title={`${id} (click to sort)`}
              onClick={() => void model.toggleSort(id)}
            >
              <span className="jp-mltrack-RunTable-kind">{c.kind[0]}</span>
              <span className="jp-mltrack-RunTable-key">{c.key}</span>
              {sortMark(id)}
            </div>
          );
        })}
      </div>
      <div
        className="jp-mltrack-RunTable-body"
        style={{ height: rows.length * ROW_HEIGHT, minWidth: width }}
      >
        {visible.map((display, i) => (
          <RunRow
            key={display.run.run_id}
            display={display}
            top={(first + i) * ROW_HEIGHT}
            template={template}
            columns={columns}
            selected={model.isSelected(display.run.run_id)}
            now={now}
            model={model}
            onOpen={props.onOpen}
          />
        ))}
      </div>
    </div>
  );
}

function RunRow(props: {
  display: IDisplayRow;
  top: number;
  template: string;
  columns: IColumn[];
  selected: boolean;
  now: number;
  model: RunsModel;
  onOpen: (runId: string) => void;
}): JSX.Element {
  const { display, model } = props;
  const run = display.run;
  const Caret = display.collapsed ? caretRightIcon.react : caretDownIcon.react;
  return (
    <div
      className={
        'jp-mltrack-RunTable-row' +
        (props.selected ? ' jp-mod-selected' : '') +
        (run.lifecycle_stage === 'deleted' ? ' jp-mod-deleted' : '')
      }
      role="row"
      aria-selected={props.selected}
      data-run-id={run.run_id}
      data-run-name={run.run_name}
      style={{ top: props.top, gridTemplateColumns: props.template, height: ROW_HEIGHT }}
      onClick={e => model.select(run.run_id, selectMode(e))}
      onDoubleClick={() => props.onOpen(run.run_id)}
      onContextMenu={() => {
        if (!props.selected) {
          model.select(run.run_id, 'single');
        }
      }}
    >
      <div className="jp-mltrack-RunTable-cell jp-mltrack-RunTable-select">
        <input
          type="checkbox"
          checked={props.selected}
          title="Select"
          onClick={e => e.stopPropagation()}
          onChange={() => model.select(run.run_id, 'toggle')}
        />
      </div>
      <div
        className="jp-mltrack-RunTable-cell jp-mltrack-RunTable-name"
        style={{ paddingLeft: 4 + display.depth * 14 }}
        title={`${run.run_name}\n${run.run_id}`}
      >
        {display.hasChildren ? (
          <span
            className="jp-mltrack-RunTable-caret"
            onClick={e => {
              e.stopPropagation();
              model.toggleCollapsed(run.run_id);
            }}
            title={display.collapsed ? 'Show nested runs' : 'Hide nested runs'}
          >
            <Caret tag="span" />
          </span>
        ) : (
          <span className="jp-mltrack-RunTable-caret-space" />
        )}
        <span className="jp-mltrack-RunTable-text">{run.run_name || run.run_id}</span>
        {run.parent_missing ? (
          <span
            className="jp-mltrack-RunTable-orphan"
            title={
              `Its parent run ${run.parent_run_id} is not in this store ` +
              '(not copied yet, or not part of an import): shown at the top level.'
            }
          >
            parent missing
          </span>
        ) : null}
      </div>
      <div className="jp-mltrack-RunTable-cell">
        <StatusBadge status={run.status} />
      </div>
      <div
        className="jp-mltrack-RunTable-cell jp-mltrack-RunTable-time"
        title={formatTime(run.start_time)}
      >
        {formatStart(run.start_time, props.now)}
      </div>
      <div className="jp-mltrack-RunTable-cell jp-mltrack-RunTable-number">
        {formatDuration(runDuration(run.start_time, run.end_time, run.status, props.now))}
      </div>
      {props.columns.map(c => {
        const { text, title } = cellValue(run, c);
        return (
          <div
            key={columnId(c)}
            className={
              'jp-mltrack-RunTable-cell' +
              (c.kind === 'metrics' ? ' jp-mltrack-RunTable-number' : '')
            }
            data-column={columnId(c)}
            title={title}
          >
            {text}
          </div>
        );
      })}
    </div>
  );
}

/**
 * The sidebar panel: experiments, then the runs of the chosen ones with a filter box, a column
 * picker and the actions on the selected runs.
 */

import { CommandRegistry } from '@lumino/commands';
import {
  deleteIcon,
  filterIcon,
  refreshIcon,
  tableRowsIcon,
  treeViewIcon,
  undoIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { formatTime } from '../format';
import { IColumn, RunsModel, columnId } from '../model';
import { CommandIDs } from '../tokens';
import { ErrorMessage, Note, ToolButton, useSignal } from './common';
import { RunTable } from './RunTable';

/** The whole sidebar. */
export function Sidebar(props: {
  model: RunsModel;
  commands: CommandRegistry;
  onOpen: (runId: string) => void;
}): JSX.Element {
  const { model, commands } = props;
  useSignal(model.changed);
  const [picking, setPicking] = React.useState(false);
  const selected = model.selected;
  const deletedView = model.viewType === 'DELETED_ONLY';
  return (
    <div className="jp-mltrack-Sidebar">
      <div className="jp-mltrack-Sidebar-title">
        <h2>ML Tracking</h2>
        <ToolButton
          icon={refreshIcon}
          title="Refresh experiments and runs"
          onClick={() => void commands.execute(CommandIDs.refresh)}
        />
        <ToolButton
          label="Registry"
          title="Open the model registry"
          onClick={() => void commands.execute(CommandIDs.openRegistry)}
        />
      </div>
      <Experiments model={model} />
      <div className="jp-mltrack-Sidebar-section jp-mltrack-Sidebar-runs">
        <FilterBox model={model} />
        <div className="jp-mltrack-Toolbar">
          <ToolButton
            icon={tableRowsIcon}
            label="Columns"
            title="Choose the param, metric and tag columns"
            pressed={picking}
            onClick={() => setPicking(!picking)}
          />
          <ToolButton
            icon={treeViewIcon}
            title={model.tree ? 'Show nested runs flat' : 'Show nested runs under their parents'}
            pressed={model.tree}
            onClick={() => {
              model.tree = !model.tree;
            }}
          />
          <ToolButton
            label="Compare"
            title="Compare the selected runs (2 or more)"
            disabled={selected.length < 2}
            className="jp-mltrack-compare-button"
            onClick={() => void commands.execute(CommandIDs.compareRuns)}
          />
          {deletedView ? (
            <ToolButton
              icon={undoIcon}
              title="Restore the selected runs"
              disabled={!selected.length}
              onClick={() => void commands.execute(CommandIDs.restoreRuns)}
            />
          ) : (
            <ToolButton
              icon={deleteIcon}
              title="Delete the selected runs"
              disabled={!selected.length}
              onClick={() => void commands.execute(CommandIDs.deleteRuns)}
            />
          )}
          <ToolButton
            label="Deleted"
            title={deletedView ? 'Showing deleted runs: show active ones' : 'Show deleted runs'}
            pressed={deletedView}
            onClick={() => void model.setViewType(deletedView ? 'ACTIVE_ONLY' : 'DELETED_ONLY')}
          />
        </div>
        {picking && <ColumnPicker model={model} onClose={() => setPicking(false)} />}
        <div className="jp-mltrack-Sidebar-count">
          {model.selectedExperiments.length === 0
            ? ''
            : `${model.total.toLocaleString()} run${model.total === 1 ? '' : 's'}` +
              (selected.length ? ` · ${selected.length} selected` : '') +
              (model.loading ? ' · loading…' : '')}
        </div>
        <ErrorMessage message={model.error} />
        {model.selectedExperiments.length === 0 ? (
          <Note>
            Choose an experiment above. Runs logged with <code>jupyter_mltrack</code> appear here
            while they run.
          </Note>
        ) : (
          <RunTable model={model} onOpen={props.onOpen} />
        )}
      </div>
    </div>
  );
}

function Experiments(props: { model: RunsModel }): JSX.Element {
  const { model } = props;
  const chosen = new Set(model.selectedExperiments);
  const experiments = [...model.experiments].sort(
    (a, b) => b.last_update_time - a.last_update_time
  );
  return (
    <div className="jp-mltrack-Sidebar-section jp-mltrack-Experiments">
      <div className="jp-mltrack-Sidebar-heading">
        Experiments <span className="jp-mltrack-Sidebar-hint">(ctrl-click: several)</span>
      </div>
      <ErrorMessage message={model.experimentsError} />
      <ul className="jp-mltrack-Experiments-list" role="listbox" aria-multiselectable>
        {experiments.map(e => (
          <li
            key={e.experiment_id}
            role="option"
            aria-selected={chosen.has(e.experiment_id)}
            className={
              'jp-mltrack-Experiments-item' +
              (chosen.has(e.experiment_id) ? ' jp-mod-selected' : '')
            }
            data-experiment-id={e.experiment_id}
            data-experiment-name={e.name}
            title={`${e.name} (id ${e.experiment_id}), updated ${formatTime(e.last_update_time)}`}
            onClick={ev => void model.selectExperiment(e.experiment_id, ev.ctrlKey || ev.metaKey)}
          >
            <span className="jp-mltrack-Experiments-name">{e.name}</span>
          </li>
        ))}
        {!experiments.length && !model.experimentsError && <Note>No experiments yet.</Note>}
      </ul>
    </div>
  );
}

/** The filter box: applied on Enter, its error shown right under it. */
function FilterBox(props: { model: RunsModel }): JSX.Element {
  const { model } = props;
  const [text, setText] = React.useState(model.filter);
  const apply = () => void model.setFilter(text);
  return (
    <div className="jp-mltrack-Filter">
      <form
        className="jp-mltrack-Filter-form"
        onSubmit={e => {
          e.preventDefault();
          apply();
        }}
      >
        <filterIcon.react tag="span" className="jp-mltrack-Filter-icon" />
        <input
          className={
            'jp-mltrack-Input jp-mltrack-Filter-input' + (model.filterError ? ' jp-mod-error' : '')
          }
          placeholder="Filter: metrics.acc > 0.9 and params.model = 'rf'"
          title="The search grammar: metrics.x > 1 and params.y = 'a' or tags.z LIKE 'b%'. Enter applies."
          value={text}
          spellCheck={false}
          onChange={e => setText(e.target.value)}
          aria-invalid={model.filterError !== null}
        />
        {text && (
          <button
            type="button"
            className="jp-mltrack-Filter-clear"
            title="Clear the filter"
            onClick={() => {
              setText('');
              void model.setFilter('');
            }}
          >
            ×
          </button>
        )}
      </form>
      {model.filterError && (
        <div className="jp-mltrack-Filter-error" role="alert">
          {model.filterError}
        </div>
      )}
    </div>
  );
}

/** Checkboxes for every metric, param and tag key the experiments' runs carry. */
function ColumnPicker(props: { model: RunsModel; onClose: () => void }): JSX.Element {
  const { model } = props;
  const [query, setQuery] = React.useState('');
  const [chosen, setChosen] = React.useState<IColumn[]>(model.columns);
  const ids = new Set(chosen.map(columnId));
  const q = query.trim().toLowerCase();
  const available = model.availableColumns;
  const groups: [IColumn['kind'], string, string[]][] = [
    ['metrics', 'Metrics', available.metrics],
    ['params', 'Params', available.params],
    ['tags', 'Tags', available.tags.filter(t => !t.startsWith('mltrack.') || ids.has('tags.' + t))]
  ];
  const toggle = (column: IColumn) => {
    const id = columnId(column);
    setChosen(ids.has(id) ? chosen.filter(c => columnId(c) !== id) : [...chosen, column]);
  };
  return (
    <div className="jp-mltrack-ColumnPicker" role="dialog" aria-label="Columns">
      <input
        className="jp-mltrack-Input"
        placeholder="Search keys"
        value={query}
        onChange={e => setQuery(e.target.value)}
      />
      <div className="jp-mltrack-ColumnPicker-groups">
        {groups.map(([kind, label, keys]) => {
          const shown = keys.filter(k => !q || k.toLowerCase().includes(q));
          return (
            <div key={kind} className="jp-mltrack-ColumnPicker-group">
              <div className="jp-mltrack-ColumnPicker-label">
                {label} <span className="jp-mltrack-Sidebar-hint">({keys.length})</span>
              </div>
              {shown.map(key => (
                <label key={key} className="jp-mltrack-ColumnPicker-item" title={`${kind}.${key}`}>
                  <input
                    type="checkbox"
                    checked={ids.has(`${kind}.${key}`)}
                    onChange={() => toggle({ kind, key })}
                  />
                  {key}
                </label>
              ))}
              {!shown.length && <Note>none</Note>}
            </div>
          );
        })}
      </div>
      <div className="jp-mltrack-ColumnPicker-actions">
        <button
          className="jp-mltrack-Button"
          onClick={() => {
            void model.setColumns(chosen);
            props.onClose();
          }}
        >
          Apply
        </button>
        <button className="jp-mltrack-Button jp-mod-secondary" onClick={props.onClose}>
          Cancel
        </button>
      </div>
    </div>
  );
}

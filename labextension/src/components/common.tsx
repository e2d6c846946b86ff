/**
 * Small pieces the views share: a re-render hook for Lumino signals, tabs, messages, tables of
 * key-value pairs, and a status badge.
 */

import { LabIcon } from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import { messageOf } from '../api';
import { isSystemTag } from '../format';

/** Re-render the component whenever `signal` fires. */
export function useSignal<T>(signal: ISignal<T, unknown>): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const slot = () => setTick(t => t + 1);
    signal.connect(slot);
    return () => {
      signal.disconnect(slot);
    };
  }, [signal]);
}

/** The state of an async load (see {@link useAsync}). */
export interface IAsync<T> {
  /** The last value loaded (kept while a reload runs, and after a failed one). */
  value: T | null;
  /** Why the last load failed; null once one succeeds. */
  error: string | null;
  loading: boolean;
  /** Load again with the same arguments (the value shown stays until the new one arrives). */
  reload: () => void;
}

/**
 * The one way a view loads data: run `load` when `deps` change or {@link IAsync.reload} is
 * called. A newer load aborts the older one (its `signal`, passed on to the API, cancels the
 * request), and the answer of an aborted or unmounted load is dropped. With `reset`, new
 * `deps` (another question) clear the value and error first, so the old answer is not shown
 * under the new question; without it the old value stays until the new one arrives.
 */
export function useAsync<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: React.DependencyList,
  options: { reset?: boolean } = {}
): IAsync<T> {
  const [state, setState] = React.useState<{
    value: T | null;
    error: string | null;
    loading: boolean;
  }>({ value: null, error: null, loading: true });
  const [generation, setGeneration] = React.useState(0);
  const loaded = React.useRef(generation);
  React.useEffect(() => {
    const isReload = loaded.current !== generation;
    loaded.current = generation;
    const abort = new AbortController();
    setState(s =>
      options.reset && !isReload
        ? { value: null, error: null, loading: true }
        : { ...s, loading: true }
    );
    load(abort.signal).then(
      value => {
        if (!abort.signal.aborted) {
          setState({ value, error: null, loading: false });
        }
      },
      error => {
        if (!abort.signal.aborted) {
          setState(s => ({ value: s.value, error: messageOf(error), loading: false }));
        }
      }
    );
    return () => abort.abort();
  }, [...deps, generation]);
  const reload = React.useCallback(() => setGeneration(g => g + 1), []);
  return { ...state, reload };
}

/** One tab of a {@link Tabs} bar. */
export interface ITab {
  id: string;
  label: string;
  count?: number;
}

/** A bar of tabs in JupyterLab's look. */
export function Tabs(props: {
  tabs: ITab[];
  current: string;
  onSelect: (id: string) => void;
}): JSX.Element {
  return (
    <div className="jp-mltrack-Tabs" role="tablist">
      {props.tabs.map(tab => (
        <button
          key={tab.id}
          role="tab"
          aria-selected={tab.id === props.current}
          className={'jp-mltrack-Tab' + (tab.id === props.current ? ' jp-mod-current' : '')}
          onClick={() => props.onSelect(tab.id)}
        >
          {tab.label}
          {tab.count !== undefined && <span className="jp-mltrack-Tab-count">{tab.count}</span>}
        </button>
      ))}
    </div>
  );
}

/** An error message in JupyterLab's error colours. */
export function ErrorMessage(props: {
  message: string | null;
  title?: string;
}): JSX.Element | null {
  if (!props.message) {
    return null;
  }
  return (
    <div className="jp-mltrack-Error" role="alert">
      {props.title && <strong>{props.title}: </strong>}
      {props.message}
    </div>
  );
}

/** A quiet note, e.g. for an empty list. */
export function Note(props: { children: React.ReactNode }): JSX.Element {
  return <div className="jp-mltrack-Note">{props.children}</div>;
}

/** A loading indicator. */
export function Loading(): JSX.Element {
  return <div className="jp-mltrack-Loading">Loading…</div>;
}

/** A run status as a coloured badge; a running run's dot pulses. */
export function StatusBadge(props: { status: string; compact?: boolean }): JSX.Element {
  const status = props.status || 'UNKNOWN';
  return (
    <span
      className={`jp-mltrack-Status jp-mltrack-Status-${status.toLowerCase()}`}
      title={status}
      data-status={status}
    >
      <span className="jp-mltrack-Status-dot" />
      {!props.compact && <span className="jp-mltrack-Status-label">{status.toLowerCase()}</span>}
    </span>
  );
}

/** A two-column table of keys and values, optionally filtered by a search box. */
export function KeyValueTable(props: {
  entries: [string, React.ReactNode][];
  empty?: string;
  searchable?: boolean;
  className?: string;
}): JSX.Element {
  const [query, setQuery] = React.useState('');
  const q = query.trim().toLowerCase();
  const shown = q
    ? props.entries.filter(
        ([k, v]) =>
          k.toLowerCase().includes(q) || (typeof v === 'string' && v.toLowerCase().includes(q))
      )
    : props.entries;
  return (
    <div className={'jp-mltrack-KeyValue ' + (props.className ?? '')}>
      {props.searchable && props.entries.length > 8 && (
        <input
          className="jp-mltrack-Input jp-mltrack-KeyValue-search"
          placeholder="Search"
          value={query}
          onChange={e => setQuery(e.target.value)}
        />
      )}
      {shown.length === 0 ? (
        <Note>{props.empty ?? 'Nothing here.'}</Note>
      ) : (
        <table className="jp-mltrack-Table">
          <tbody>
            {shown.map(([key, value]) => (
              <tr key={key}>
                <th title={key}>{key}</th>
                <td>{value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Split tags into the user's and the system's (mlflow.*, mltrack.*), each sorted by key. */
export function splitTags(tags: Record<string, string>): {
  user: [string, string][];
  system: [string, string][];
} {
  const entries = Object.entries(tags).sort(([a], [b]) => a.localeCompare(b));
  return {
    user: entries.filter(([k]) => !isSystemTag(k)),
    system: entries.filter(([k]) => isSystemTag(k))
  };
}

/** A button with a JupyterLab icon and a label or title. */
export function ToolButton(props: {
  icon?: LabIcon;
  label?: string;
  title: string;
  onClick: () => void;
  disabled?: boolean;
  pressed?: boolean;
  className?: string;
}): JSX.Element {
  const Icon = props.icon?.react;
  return (
    <button
      className={
        'jp-mltrack-ToolButton' +
        (props.pressed ? ' jp-mod-pressed' : '') +
        (props.className ? ' ' + props.className : '')
      }
      title={props.title}
      aria-label={props.title}
      aria-pressed={props.pressed}
      disabled={props.disabled}
      onClick={props.onClick}
    >
      {Icon && <Icon tag="span" className="jp-mltrack-ToolButton-icon" />}
      {props.label && <span className="jp-mltrack-ToolButton-label">{props.label}</span>}
    </button>
  );
}

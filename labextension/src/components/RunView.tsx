/**
 * The run view (main area): overview, params, metrics as charts, the run's cells with what each
 * logged, artifacts, dataset inputs and logged models. A running run updates as it logs.
 */

import { InputDialog, Notification } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { editIcon, refreshIcon, tagIcon, notebookIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { registerModel, renameRun, tagRuns } from '../actions';
import { MltrackApi, messageOf } from '../api';
import { ChangeFeed } from '../feed';
import { formatDuration, formatNumber, formatTime, runDuration, shortId } from '../format';
import {
  IArtifactEntry,
  ICell,
  IChanges,
  ILineage,
  ILoggedItem,
  ILoggedModel,
  IMltrackSettings,
  IRun,
  IRunActions
} from '../tokens';
import { ArtifactBrowser } from './ArtifactBrowser';
import {
  ErrorMessage,
  KeyValueTable,
  Loading,
  Note,
  StatusBadge,
  Tabs,
  ToolButton,
  splitTags,
  useAsync
} from './common';
import { MetricCharts } from './MetricCharts';

interface IRunData {
  run: IRun;
  lineage: ILineage | null;
  cells: ICell[];
  items: ILoggedItem[] | null;
  artifacts: IArtifactEntry[];
}

async function loadRun(api: MltrackApi, runId: string, signal: AbortSignal): Promise<IRunData> {
  // only the run itself is needed; the rest shows as empty when it cannot be loaded
  const [run, lineage, cells, items, artifacts] = await Promise.all([
    api.run(runId, signal),
    api.lineage(runId, signal).catch(() => null),
    api.cells(runId, signal).catch(() => [] as ICell[]),
    api.loggedItems(runId, signal).catch(() => null),
    api.allArtifacts(runId, signal).catch(() => [] as IArtifactEntry[])
  ]);
  return { run, lineage, cells, items, artifacts };
}

/** The view of one run. */
export function RunView(props: {
  api: MltrackApi;
  feed: ChangeFeed;
  runId: string;
  actions: IRunActions;
  rendermime: IRenderMimeRegistry | null;
  settings: IMltrackSettings;
  onTitle?: (title: string) => void;
}): JSX.Element {
  const { api, feed, runId, actions } = props;
  const {
    value: data,
    error,
    reload
  } = useAsync(signal => loadRun(api, runId, signal), [api, runId]);
  const [tab, setTab] = React.useState('overview');
  const [now, setNow] = React.useState(Date.now());

  const title = data ? data.run.info.run_name || shortId(runId) : null;
  React.useEffect(() => {
    if (title !== null) {
      props.onTitle?.(title);
    }
  }, [title]);

  // follow the run while it changes (status, new metrics, new cells)
  React.useEffect(() => {
    const slot = (_: ChangeFeed, changes: IChanges) => {
      if (
        changes.runs.some(r => r.run_id === runId) ||
        changes.metrics.some(m => m.run_id === runId)
      ) {
        reload();
      }
    };
    feed.changed.connect(slot);
    return () => {
      feed.changed.disconnect(slot);
    };
  }, [feed, runId, reload]);

  const running = data?.run.info.status === 'RUNNING';
  React.useEffect(() => {
    if (!running) {
      return;
    }
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [running]);

  if (!data) {
    return (
      <div className="jp-mltrack-RunView">
        <ErrorMessage message={error} title="Cannot load the run" />
        {!error && <Loading />}
      </div>
    );
  }
  const { run } = data;
  const info = run.info;
  const metricKeys = Object.keys(run.data.metrics).sort();
  const cellLabel = (cellId: string): string | null => {
    const cell = data.cells.find(c => c.cell_id === cellId);
    return cell ? `cell [${cell.execution_count ?? '?'}]` : null;
  };
  const jump = (cellId?: string | null) => void actions.jumpToCell(runId, cellId);
  const models = loggedModelEntries(run);

  return (
    <div className="jp-mltrack-RunView" data-run-id={runId}>
      <div className="jp-mltrack-RunView-header">
        <h1 title={info.run_id}>{info.run_name || info.run_id}</h1>
        <StatusBadge status={info.status} />
        {info.lifecycle_stage === 'deleted' && <span className="jp-mltrack-Badge">deleted</span>}
        <span className="jp-mltrack-RunView-id">{info.run_id}</span>
        <div className="jp-mltrack-RunView-actions">
          <ToolButton
            icon={notebookIcon}
            label="Open cell"
            title="Open the notebook at the cell where this run started"
            onClick={() => jump(null)}
          />
          <ToolButton
            icon={editIcon}
            title="Rename the run"
            onClick={() => void renameRun(api, runId, info.run_name).then(ok => ok && reload())}
          />
          <ToolButton
            icon={tagIcon}
            title="Set or remove a tag"
            onClick={() => void tagRuns(api, [runId]).then(ok => ok && reload())}
          />
          <ToolButton icon={refreshIcon} title="Reload" onClick={reload} />
        </div>
      </div>
      <ErrorMessage message={error} />
      <Tabs
        current={tab}
        onSelect={setTab}
        tabs={[
          { id: 'overview', label: 'Overview' },
          { id: 'metrics', label: 'Metrics', count: metricKeys.length },
          { id: 'cells', label: 'Cells', count: data.cells.length },
          { id: 'artifacts', label: 'Artifacts', count: data.artifacts.length },
          { id: 'models', label: 'Data & models', count: run.inputs.length + models.length }
        ]}
      />
      <div className="jp-mltrack-RunView-body">
        {tab === 'overview' && (
          <Overview data={data} now={now} actions={actions} api={api} onChanged={reload} />
        )}
        {tab === 'metrics' && (
          <MetricCharts
            api={api}
            feed={feed}
            runId={runId}
            keys={metricKeys}
            points={props.settings.chartPoints}
            live={running}
          />
        )}
        {tab === 'cells' && <Cells data={data} onJump={jump} />}
        {tab === 'artifacts' && (
          <ArtifactBrowser
            api={api}
            runId={runId}
            rendermime={props.rendermime}
            cellLabel={cellLabel}
            onJumpToCell={id => jump(id)}
          />
        )}
        {tab === 'models' && <DataAndModels api={api} run={run} actions={actions} />}
      </div>
    </div>
  );
}

function RunLink(props: { runId: string; name: string; actions: IRunActions }): JSX.Element {
  return (
    <a
      className="jp-mltrack-Link"
      href="#"
      title={props.runId}
      onClick={e => {
        e.preventDefault();
        props.actions.openRun(props.runId);
      }}
    >
      {props.name || shortId(props.runId)}
    </a>
  );
}

function Overview(props: {
  data: IRunData;
  now: number;
  actions: IRunActions;
  api: MltrackApi;
  onChanged: () => void;
}): JSX.Element {
  const { data, actions } = props;
  const { run, lineage } = data;
  const info = run.info;
  const tags = run.data.tags;
  const { user, system } = splitTags(tags);
  const [showSystem, setShowSystem] = React.useState(false);
  const notebook = tags['mltrack.notebook'] || tags['mlflow.source.name'] || '';
  const commit = tags['mlflow.source.git.commit'];
  const description = tags['mlflow.note.content'] ?? '';

  const editDescription = async () => {
    const answer = await InputDialog.getText({
      title: 'Run description',
      text: description,
      okLabel: 'Save'
    });
    if (answer.button.accept && answer.value !== null) {
      try {
        await props.api.updateRun(info.run_id, {
          tags: { 'mlflow.note.content': answer.value || null }
        });
        props.onChanged();
      } catch (e) {
        Notification.error(`Cannot save the description: ${messageOf(e)}`);
      }
    }
  };

  const overview: [string, React.ReactNode][] = [
    ['Status', <StatusBadge key="s" status={info.status} />],
    ['Run ID', <code key="id">{info.run_id}</code>],
    ['Experiment', info.experiment_id],
    ['Started', formatTime(info.start_time)],
    ['Ended', formatTime(info.end_time) || (info.status === 'RUNNING' ? 'still running' : '')],
    [
      'Duration',
      formatDuration(runDuration(info.start_time, info.end_time, info.status, props.now))
    ],
    ['User', info.user_id ?? ''],
    [
      'Source notebook',
      notebook ? (
        <a
          key="nb"
          href="#"
          className="jp-mltrack-Link"
          title="Open the notebook at the run's first cell"
          onClick={e => {
            e.preventDefault();
            void actions.jumpToCell(info.run_id, null);
          }}
        >
          {notebook}
        </a>
      ) : (
        ''
      )
    ],
    [
      'Git commit',
      commit
        ? `${commit.slice(0, 10)}${tags['mlflow.source.git.branch'] ? ` (${tags['mlflow.source.git.branch']})` : ''}${tags['mltrack.git.dirty'] === 'true' ? ', with uncommitted changes' : ''}`
        : ''
    ]
  ];
  if (lineage?.ancestors.length) {
    overview.push([
      'Parent run',
      <RunLink
        key="p"
        runId={lineage.ancestors[0].run_id}
        name={lineage.ancestors[0].run_name}
        actions={actions}
      />
    ]);
  }
  if (lineage?.children.length) {
    overview.push([
      `Nested runs (${lineage.children.length})`,
      <span key="c" className="jp-mltrack-LinkList">
        {lineage.children.slice(0, 50).map(child => (
          <RunLink
            key={child.run_id}
            runId={child.run_id}
            name={child.run_name}
            actions={actions}
          />
        ))}
        {lineage.children.length > 50 ? ' …' : ''}
      </span>
    ]);
  }

  return (
    <div className="jp-mltrack-Overview">
      <section className="jp-mltrack-Card">
        <h3>Overview</h3>
        <KeyValueTable entries={overview} />
        <div className="jp-mltrack-Description">
          <div className="jp-mltrack-Description-head">
            <h4>Description</h4>
            <ToolButton
              icon={editIcon}
              title="Edit the description"
              onClick={() => void editDescription()}
            />
          </div>
          {description ? <p>{description}</p> : <Note>No description.</Note>}
        </div>
      </section>
      <section className="jp-mltrack-Card">
        <h3>Params ({Object.keys(run.data.params).length})</h3>
        <KeyValueTable
          searchable
          empty="No params."
          entries={Object.entries(run.data.params).sort(([a], [b]) => a.localeCompare(b))}
        />
      </section>
      <section className="jp-mltrack-Card">
        <h3>Metrics ({Object.keys(run.data.metrics).length}, latest values)</h3>
        <KeyValueTable
          searchable
          empty="No metrics."
          entries={Object.entries(run.data.metrics)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, v]) => [k, formatNumber(v)])}
        />
      </section>
      <section className="jp-mltrack-Card">
        <h3>Tags ({user.length})</h3>
        <KeyValueTable entries={user} empty="No tags of your own." />
        <button className="jp-mltrack-LinkButton" onClick={() => setShowSystem(!showSystem)}>
          {showSystem ? 'Hide' : 'Show'} {system.length} system tags
        </button>
        {showSystem && <KeyValueTable entries={system} className="jp-mltrack-SystemTags" />}
      </section>
    </div>
  );
}

const KIND_LABELS: Record<ILoggedItem['kind'], string> = {
  param: 'param',
  metric: 'metric',
  tag: 'tag',
  artifact: 'artifact',
  input: 'dataset'
};

function Cells(props: { data: IRunData; onJump: (cellId: string | null) => void }): JSX.Element {
  const { data } = props;
  const byCell = new Map<string, { kind: string; text: string }[]>();
  const add = (cellId: string | null, kind: string, text: string) => {
    if (!cellId) {
      return;
    }
    const list = byCell.get(cellId) ?? [];
    list.push({ kind, text });
    byCell.set(cellId, list);
  };
  if (data.items) {
    for (const item of data.items) {
      const detail =
        item.kind === 'metric'
          ? `${item.key} = ${formatNumber(Number(item.value))}${item.points > 1 ? ` (${item.points} points)` : ''}`
          : item.kind === 'artifact' || item.kind === 'input'
            ? item.key
            : `${item.key} = ${item.value ?? ''}`;
      if (item.kind !== 'tag' || !item.key.startsWith('mltrack.')) {
        add(item.cell_id, KIND_LABELS[item.kind], detail);
      }
    }
  } else {
    // without the items route only artifacts can be tied to their cells
    for (const file of data.artifacts) {
      add(file.cell_id, 'artifact', file.path);
    }
  }
  if (!data.cells.length) {
    return (
      <Note>
        No notebook cells were recorded for this run (it did not run in a notebook with{' '}
        <code>%load_ext jupyter_mltrack</code>).
      </Note>
    );
  }
  return (
    <div className="jp-mltrack-Cells">
      {[...data.cells]
        .sort((a, b) => a.seq - b.seq)
        .map(cell => {
          const logged = cell.cell_id ? (byCell.get(cell.cell_id) ?? []) : [];
          return (
            <div
              key={cell.seq}
              className={'jp-mltrack-CellCard' + (cell.outcome !== 'ok' ? ' jp-mod-error' : '')}
              data-cell-id={cell.cell_id ?? ''}
            >
              <div className="jp-mltrack-CellCard-head">
                <span className="jp-mltrack-CellCard-prompt">[{cell.execution_count ?? ' '}]</span>
                <span className="jp-mltrack-CellCard-time">
                  {formatTime(cell.start_time)} · {formatDuration(cell.duration_ms)}
                </span>
                <span className={`jp-mltrack-Badge jp-mltrack-outcome-${cell.outcome}`}>
                  {cell.outcome}
                </span>
                {cell.cell_id && !cell.cell_id.startsWith('exec-') && (
                  <ToolButton
                    icon={notebookIcon}
                    label="Jump to cell"
                    title="Select this cell in its notebook"
                    className="jp-mltrack-jump"
                    onClick={() => props.onJump(cell.cell_id)}
                  />
                )}
              </div>
              <pre className="jp-mltrack-CellCard-source">{cell.source ?? ''}</pre>
              {cell.error_type && (
                <div className="jp-mltrack-Error">
                  {cell.error_type}: {cell.error_message}
                </div>
              )}
              {logged.length > 0 && (
                <div className="jp-mltrack-CellCard-logged">
                  {logged.slice(0, 60).map((l, i) => (
                    <span
                      key={i}
                      className={`jp-mltrack-Chip jp-mltrack-Chip-${l.kind}`}
                      title={l.text}
                    >
                      <b>{l.kind}</b> {l.text}
                    </span>
                  ))}
                  {logged.length > 60 && (
                    <span className="jp-mltrack-Chip">+{logged.length - 60} more</span>
                  )}
                </div>
              )}
            </div>
          );
        })}
    </div>
  );
}

/** A model a run logged: a LoggedModel (MLflow 3) or an older `mlflow.log-model.history` entry. */
interface IModelEntry {
  label: string;
  source: string;
  modelId: string | null;
  detail: string;
}

function loggedModelEntries(run: IRun): IModelEntry[] {
  const out: IModelEntry[] = run.outputs.map(o => ({
    label: o.model_id,
    source: `models:/${o.model_id}`,
    modelId: o.model_id,
    detail: `logged model, step ${o.step}`
  }));
  const history = run.data.tags['mlflow.log-model.history'];
  if (history) {
    try {
      const parsed: unknown = JSON.parse(history);
      if (Array.isArray(parsed)) {
        for (const entry of parsed) {
          const path = (entry as { artifact_path?: unknown }).artifact_path;
          if (typeof path === 'string' && !out.some(o => o.detail.includes(path))) {
            const flavors = Object.keys((entry as { flavors?: object }).flavors ?? {}).join(', ');
            out.push({
              label: path,
              source: `runs:/${run.info.run_id}/${path}`,
              modelId: null,
              detail: `artifact folder ${path}${flavors ? ` (${flavors})` : ''}`
            });
          }
        }
      }
    } catch {
      // a hand-written tag that is not JSON: nothing to offer
    }
  }
  return out;
}

function DataAndModels(props: { api: MltrackApi; run: IRun; actions: IRunActions }): JSX.Element {
  const { api, run, actions } = props;
  const entries = loggedModelEntries(run);
  const ids = entries.map(e => e.modelId).filter((id): id is string => id !== null);
  const { value: found } = useAsync(
    signal =>
      Promise.all(
        // a model that cannot be loaded is shown by its id alone
        ids.map(id => api.loggedModel(id, signal).catch(() => null))
      ),
    [api, ids.join('\u0000')]
  );
  const details: Record<string, ILoggedModel> = {};
  for (const model of found ?? []) {
    if (model) {
      details[model.model_id] = model;
    }
  }

  const register = async (entry: IModelEntry) => {
    const name = (entry.modelId && details[entry.modelId]?.name) || entry.label;
    const version = await registerModel(api, entry.source, run.info.run_id, entry.modelId, name);
    if (version) {
      Notification.success(`Registered ${version.name} version ${version.version}`, {
        autoClose: 8000,
        actions: [
          {
            label: 'Open in registry',
            callback: () => actions.openRegistry(version.name, version.version)
          }
        ]
      });
    }
  };

  return (
    <div className="jp-mltrack-DataAndModels">
      <section className="jp-mltrack-Card">
        <h3>Dataset inputs ({run.inputs.length})</h3>
        {run.inputs.length === 0 ? (
          <Note>No datasets were logged as inputs of this run.</Note>
        ) : (
          <table className="jp-mltrack-Table jp-mltrack-DataTable">
            <thead>
              <tr>
                <th>Name</th>
                <th>Digest</th>
                <th>Context</th>
                <th>Source</th>
              </tr>
            </thead>
            <tbody>
              {run.inputs.map((input, i) => (
                <tr key={i}>
                  <td>{input.dataset.name}</td>
                  <td>
                    <code>{input.dataset.digest}</code>
                  </td>
                  <td>{input.context ?? input.tags['mlflow.data.context'] ?? ''}</td>
                  <td title={input.dataset.source}>
                    {input.dataset.source_type}
                    {input.dataset.source ? `: ${input.dataset.source}` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section className="jp-mltrack-Card">
        <h3>Logged models ({entries.length})</h3>
        {entries.length === 0 ? (
          <Note>
            This run logged no model. Log one with <code>mlt.log_model(model, "model")</code>.
          </Note>
        ) : (
          <table className="jp-mltrack-Table jp-mltrack-DataTable jp-mltrack-Models">
            <tbody>
              {entries.map(entry => {
                const model = entry.modelId ? details[entry.modelId] : undefined;
                return (
                  <tr key={entry.source} data-source={entry.source}>
                    <td>
                      <b>{model?.name ?? entry.label}</b>
                      {model?.model_type ? ` (${model.model_type})` : ''}
                    </td>
                    <td>
                      <code>{entry.source}</code>
                    </td>
                    <td>
                      {model
                        ? `${model.status}, ${formatTime(model.creation_timestamp_ms)}`
                        : entry.detail}
                    </td>
                    <td>
                      <ToolButton
                        label="Register"
                        title="Register this model as a version of a registered model"
                        className="jp-mltrack-register"
                        onClick={() => void register(entry)}
                      />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

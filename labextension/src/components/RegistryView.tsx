/**
 * The registry view (main area): registered models; their versions with aliases, stage, tags
 * and description; the lineage of a version back to its run, the run's notebook cell and its
 * datasets; and the actions a team takes on a version: set or move an alias, transition the
 * stage, edit descriptions, comment (the review trail).
 */

import { Notification } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MltrackApi, messageOf } from '../api';
import { formatTime } from '../format';
import {
  ILineage,
  IModelVersion,
  IRegisteredModel,
  IRegistryEvent,
  IRunActions,
  MODEL_STAGES,
  ModelApproval
} from '../tokens';
import { ErrorMessage, KeyValueTable, Loading, Note, ToolButton, useAsync } from './common';

/** The registry: a model list and the chosen model's versions. */
export function RegistryView(props: {
  api: MltrackApi;
  actions: IRunActions;
  name: string | null;
  version: string | null;
  onSelect: (name: string | null, version: string | null) => void;
}): JSX.Element {
  const { api } = props;
  const [search, setSearch] = React.useState('');
  const {
    value: models,
    error,
    loading,
    reload
  } = useAsync(signal => api.registeredModels(search, signal), [api, search]);
  const name = props.name ?? models?.[0]?.name ?? null;
  return (
    <div className="jp-mltrack-Registry">
      <div className="jp-mltrack-Registry-list">
        <div className="jp-mltrack-Registry-listHead">
          <h2>Registered models</h2>
          <ToolButton icon={refreshIcon} title="Reload" onClick={reload} />
        </div>
        <input
          className="jp-mltrack-Input"
          placeholder="Search models"
          value={search}
          onChange={e => setSearch(e.target.value)}
        />
        <ErrorMessage message={error} />
        {loading && !models && <Loading />}
        {models && !models.length && !error && (
          <Note>No registered models yet. Register one from a run's "Data &amp; models" tab.</Note>
        )}
        <ul className="jp-mltrack-Registry-models">
          {(models ?? []).map(m => (
            <li
              key={m.name}
              data-model={m.name}
              className={m.name === name ? 'jp-mod-selected' : ''}
              onClick={() => props.onSelect(m.name, null)}
            >
              <span className="jp-mltrack-Registry-modelName">{m.name}</span>
              <span className="jp-mltrack-Registry-aliases">
                {Object.entries(m.aliases).map(([alias, version]) => (
                  <span key={alias} className="jp-mltrack-Alias">
                    @{alias}→v{version}
                  </span>
                ))}
              </span>
            </li>
          ))}
        </ul>
      </div>
      <div className="jp-mltrack-Registry-detail">
        {name ? (
          <ModelDetail
            key={name}
            api={api}
            name={name}
            version={props.version}
            actions={props.actions}
            onSelectVersion={v => props.onSelect(name, v)}
            onChanged={reload}
          />
        ) : (
          <Note>Choose a model.</Note>
        )}
      </div>
    </div>
  );
}

function ModelDetail(props: {
  api: MltrackApi;
  name: string;
  version: string | null;
  actions: IRunActions;
  onSelectVersion: (version: string) => void;
  onChanged: () => void;
}): JSX.Element {
  const { api, name } = props;
  const {
    value: state,
    error,
    reload
  } = useAsync(
    async signal => {
      const [model, versions] = await Promise.all([
        api.registeredModel(name, signal),
        api.modelVersions(name, signal)
      ]);
      return { model, versions };
    },
    [api, name]
  );
  const changed = () => {
    reload();
    props.onChanged();
  };
  if (!state) {
    return error ? <ErrorMessage message={error} /> : <Loading />;
  }
  const { model, versions } = state;
  const version = versions.find(v => v.version === props.version) ?? versions[0] ?? null;
  return (
    <div className="jp-mltrack-ModelDetail" data-model={name}>
      <div className="jp-mltrack-RunView-header">
        <h1>{model.name}</h1>
        {Object.entries(model.aliases).map(([alias, v]) => (
          <span key={alias} className="jp-mltrack-Alias" data-alias={alias}>
            @{alias} → v{v}
          </span>
        ))}
      </div>
      <ErrorMessage message={error} />
      <DescriptionEditor
        text={model.description}
        label="Model description"
        onSave={async text => {
          await api.updateModelDescription(name, text);
          changed();
        }}
      />
      <table className="jp-mltrack-Table jp-mltrack-DataTable jp-mltrack-Versions">
        <thead>
          <tr>
            <th>Version</th>
            <th>Stage</th>
            <th>Aliases</th>
            <th>Created</th>
            <th>Run</th>
            <th>Description</th>
          </tr>
        </thead>
        <tbody>
          {versions.map(v => (
            <tr
              key={v.version}
              data-version={v.version}
              className={v.version === version?.version ? 'jp-mod-selected' : ''}
              onClick={() => props.onSelectVersion(v.version)}
            >
              <td>v{v.version}</td>
              <td>
                <span
                  className={`jp-mltrack-Stage jp-mltrack-Stage-${v.current_stage.toLowerCase()}`}
                >
                  {v.current_stage}
                </span>
              </td>
              <td>
                {v.aliases.map(a => (
                  <span key={a} className="jp-mltrack-Alias">
                    @{a}
                  </span>
                ))}
              </td>
              <td>{formatTime(v.creation_timestamp)}</td>
              <td>{v.run_id ? v.run_id.slice(0, 8) : ''}</td>
              <td className="jp-mltrack-Versions-description">{v.description}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {version && (
        <VersionDetail
          key={version.version}
          api={api}
          version={version}
          model={model}
          actions={props.actions}
          onChanged={changed}
        />
      )}
    </div>
  );
}

function DescriptionEditor(props: {
  text: string;
  label: string;
  onSave: (text: string) => Promise<void>;
}): JSX.Element {
  const [editing, setEditing] = React.useState(false);
  const [text, setText] = React.useState(props.text);
  const [error, setError] = React.useState<string | null>(null);
  if (!editing) {
    return (
      <div className="jp-mltrack-Description">
        <div className="jp-mltrack-Description-head">
          <h4>{props.label}</h4>
          <button
            className="jp-mltrack-LinkButton"
            onClick={() => {
              setText(props.text);
              setEditing(true);
            }}
          >
            edit
          </button>
        </div>
        {props.text ? <p>{props.text}</p> : <Note>No description.</Note>}
      </div>
    );
  }
  return (
    <div className="jp-mltrack-Description">
      <h4>{props.label}</h4>
      <textarea
        className="jp-mltrack-Textarea"
        value={text}
        onChange={e => setText(e.target.value)}
        rows={3}
      />
      <ErrorMessage message={error} />
      <div className="jp-mltrack-ColumnPicker-actions">
        <button
          className="jp-mltrack-Button"
          onClick={() =>
            void props.onSave(text).then(
              () => setEditing(false),
              e => setError(messageOf(e))
            )
          }
        >
          Save
        </button>
        <button className="jp-mltrack-Button jp-mod-secondary" onClick={() => setEditing(false)}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function VersionDetail(props: {
  api: MltrackApi;
  model: IRegisteredModel;
  version: IModelVersion;
  actions: IRunActions;
  onChanged: () => void;
}): JSX.Element {
  const { api, version, actions } = props;
  const name = version.name;
  const [alias, setAlias] = React.useState('');
  const [stage, setStage] = React.useState(version.current_stage);
  const [archive, setArchive] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const { value: lineage } = useAsync<ILineage | null>(
    signal => (version.run_id ? api.lineage(version.run_id, signal) : Promise.resolve(null)),
    [api, version.run_id]
  );

  const act = async (what: string, work: () => Promise<unknown>) => {
    try {
      await work();
      setError(null);
      Notification.success(what, { autoClose: 3000 });
      props.onChanged();
    } catch (e) {
      setError(messageOf(e));
    }
  };

  const aliasOwner = alias.trim() ? props.model.aliases[alias.trim()] : undefined;
  return (
    <div className="jp-mltrack-VersionDetail" data-version={version.version}>
      <h2>
        {name} v{version.version}
      </h2>
      <ErrorMessage message={error} />
      <div className="jp-mltrack-Overview">
        <section className="jp-mltrack-Card">
          <h3>Aliases and stage</h3>
          <div className="jp-mltrack-AliasList">
            {version.aliases.length === 0 && <Note>No alias points here.</Note>}
            {version.aliases.map(a => (
              <span key={a} className="jp-mltrack-Alias" data-alias={a}>
                @{a}
                <button
                  className="jp-mltrack-Alias-remove"
                  title={`Remove the alias ${a}`}
                  onClick={() => void act(`Removed @${a}`, () => api.deleteAlias(name, a))}
                >
                  ×
                </button>
              </span>
            ))}
          </div>
          <form
            className="jp-mltrack-Inline"
            onSubmit={e => {
              e.preventDefault();
              const value = alias.trim();
              if (value) {
                void act(`@${value} → v${version.version}`, () =>
                  api.setAlias(name, value, version.version)
                ).then(() => setAlias(''));
              }
            }}
          >
            <input
              className="jp-mltrack-Input jp-mltrack-AliasInput"
              placeholder="alias, e.g. champion"
              value={alias}
              onChange={e => setAlias(e.target.value)}
            />
            <button className="jp-mltrack-Button" type="submit" disabled={!alias.trim()}>
              {aliasOwner && aliasOwner !== version.version
                ? `Move from v${aliasOwner}`
                : 'Set alias'}
            </button>
          </form>
          <div className="jp-mltrack-Inline">
            <select
              className="jp-mltrack-Select"
              value={stage}
              onChange={e => setStage(e.target.value)}
            >
              {MODEL_STAGES.map(s => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
            <label title="Move the versions now in that stage to Archived">
              <input
                type="checkbox"
                checked={archive}
                onChange={e => setArchive(e.target.checked)}
              />{' '}
              archive others
            </label>
            <button
              className="jp-mltrack-Button"
              disabled={stage === version.current_stage}
              onClick={() =>
                void act(`v${version.version} → ${stage}`, () =>
                  api.transitionStage(name, version.version, stage, archive)
                )
              }
            >
              Transition
            </button>
          </div>
          <DescriptionEditor
            text={version.description}
            label="Version description"
            onSave={async text => {
              await api.updateVersionDescription(name, version.version, text);
              props.onChanged();
            }}
          />
        </section>
        <section className="jp-mltrack-Card">
          <h3>Lineage</h3>
          <KeyValueTable
            entries={[
              ['Source', <code key="s">{version.source}</code>],
              ['Logged model', version.model_id ?? ''],
              [
                'Run',
                version.run_id ? (
                  <a
                    key="r"
                    href="#"
                    className="jp-mltrack-Link"
                    onClick={e => {
                      e.preventDefault();
                      actions.openRun(version.run_id as string);
                    }}
                  >
                    {lineage?.run.run_name || version.run_id}
                  </a>
                ) : (
                  'unknown'
                )
              ],
              [
                'Notebook cell',
                version.run_id ? (
                  <button
                    key="c"
                    className="jp-mltrack-LinkButton"
                    onClick={() => void actions.jumpToCell(version.run_id as string, null)}
                  >
                    open the run's notebook at its cell
                  </button>
                ) : (
                  ''
                )
              ],
              [
                'Datasets',
                lineage?.inputs.length
                  ? lineage.inputs
                      .map(i => `${i.dataset.name} (${i.dataset.digest.slice(0, 8)})`)
                      .join(', ')
                  : 'none recorded'
              ],
              ['Created', formatTime(version.creation_timestamp)],
              ['Status', version.status],
              [
                'Tags',
                Object.entries(version.tags)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', ')
              ]
            ]}
          />
        </section>
        <ReviewTrail api={api} version={version} />
      </div>
    </div>
  );
}

const APPROVAL_LABELS: Record<ModelApproval, string> = {
  NONE: 'no decision',
  PENDING: 'review requested',
  APPROVED: 'approved',
  REJECTED: 'rejected'
};

function isApproval(value: unknown): value is ModelApproval {
  return typeof value === 'string' && value in APPROVAL_LABELS;
}

/** What one recorded change did, in words (the approval, if any, is shown apart). */
function describeEvent(event: IRegistryEvent): string {
  const d = event.detail;
  const text = (key: string) => (d[key] === undefined || d[key] === null ? '' : String(d[key]));
  const reason = text('reason') ? ` (${text('reason')})` : '';
  switch (event.kind) {
    case 'review':
      return text('comment');
    case 'set_alias':
      return text('previous_version') && text('previous_version') !== event.version
        ? `@${text('alias')} moved here from v${text('previous_version')}`
        : `@${text('alias')} set`;
    case 'delete_alias':
      return `@${text('alias')} removed${reason}`;
    case 'transition_stage':
      return `stage ${text('old') || 'None'} → ${text('new') || 'None'}${reason}`;
    case 'create_version':
      return text('run_id') ? `registered from run ${text('run_id').slice(0, 8)}` : 'registered';
    case 'update_description':
      return text('new') ? `description: ${text('new')}` : 'description cleared';
    case 'set_tag':
      return `tag ${text('key')}=${text('value')}`;
    case 'delete_tag':
      return `tag ${text('key')} removed`;
    default:
      return Object.keys(d).length ? JSON.stringify(d) : '';
  }
}

const KIND_LABELS: Record<string, string> = {
  review: 'review',
  set_alias: 'alias',
  delete_alias: 'alias',
  transition_stage: 'stage',
  create_version: 'created',
  update_description: 'description',
  set_tag: 'tag',
  delete_tag: 'tag',
  delete_version: 'deleted'
};

/** A version's review trail, newest first, and a form to comment and approve or reject. */
function ReviewTrail(props: { api: MltrackApi; version: IModelVersion }): JSX.Element {
  const { api, version } = props;
  const {
    value: events,
    error,
    loading,
    reload
  } = useAsync(
    signal => api.registryHistory(version.name, { version: version.version }, signal),
    [api, version.name, version.version]
  );
  const [comment, setComment] = React.useState('');
  const [approval, setApproval] = React.useState<ModelApproval | ''>('');
  const [sending, setSending] = React.useState(false);
  const [sendError, setSendError] = React.useState<string | null>(null);
  const newestFirst = events ? [...events].sort((a, b) => b.seq - a.seq) : [];
  const canSend = !sending && (comment.trim() !== '' || approval !== '');
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (!canSend) {
      return;
    }
    setSending(true);
    api
      .reviewModelVersion(version.name, version.version, {
        comment: comment.trim() || null,
        approval: approval || null
      })
      .then(
        () => {
          setComment('');
          setApproval('');
          setSendError(null);
          reload();
        },
        err => setSendError(messageOf(err))
      )
      .finally(() => setSending(false));
  };
  return (
    <section className="jp-mltrack-Card jp-mltrack-Reviews">
      <h3>Review trail</h3>
      <ErrorMessage message={error} />
      {loading && events === null ? (
        <Loading />
      ) : events === null && !error ? (
        <Note>This server keeps no review trail (it lacks the registry history route).</Note>
      ) : (
        <>
          <form className="jp-mltrack-Review" onSubmit={submit}>
            <textarea
              className="jp-mltrack-Textarea"
              placeholder="Comment on this version"
              aria-label="Comment"
              rows={2}
              value={comment}
              onChange={e => setComment(e.target.value)}
            />
            <div className="jp-mltrack-Inline">
              <select
                className="jp-mltrack-Select"
                aria-label="Decision"
                value={approval}
                onChange={e => setApproval(isApproval(e.target.value) ? e.target.value : '')}
              >
                <option value="">comment only</option>
                <option value="PENDING">request review</option>
                <option value="APPROVED">approve</option>
                <option value="REJECTED">reject</option>
              </select>
              <button className="jp-mltrack-Button" type="submit" disabled={!canSend}>
                {approval === 'APPROVED'
                  ? 'Approve'
                  : approval === 'REJECTED'
                    ? 'Reject'
                    : approval === 'PENDING'
                      ? 'Request review'
                      : 'Comment'}
              </button>
            </div>
            <ErrorMessage message={sendError} />
          </form>
          <ul className="jp-mltrack-Events">
            {newestFirst.map(e => {
              const decision = e.kind === 'review' ? e.detail.approval : null;
              return (
                <li key={e.seq} data-kind={e.kind}>
                  <span className="jp-mltrack-Events-time">{formatTime(e.time)}</span>
                  <span className="jp-mltrack-Events-user" title={e.user_id ?? ''}>
                    {e.user_id ?? 'unknown'}
                  </span>
                  <span className="jp-mltrack-Events-kind">{KIND_LABELS[e.kind] ?? e.kind}</span>
                  <span className="jp-mltrack-Events-text">
                    {isApproval(decision) && (
                      <span className="jp-mltrack-Approval" data-approval={decision}>
                        {APPROVAL_LABELS[decision]}
                      </span>
                    )}
                    {describeEvent(e)}
                  </span>
                </li>
              );
            })}
            {events && !events.length && <Note>No changes recorded.</Note>}
          </ul>
        </>
      )}
    </section>
  );
}

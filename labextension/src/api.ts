/**
 * The one module that talks HTTP. Every request to the jupyter-mltrack server goes through
 * {@link MltrackApi}, over JupyterLab's `ServerConnection` (so the token, XSRF header and base
 * URL are those of the page); views never call `fetch` themselves.
 *
 * Responses are checked loosely and converted into the interfaces of `tokens.ts`: numbers that
 * JSON cannot carry (NaN, ±Infinity arrive as strings) become numbers again, tag lists become
 * records. Every failure becomes one error type, {@link MltrackApiError}.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  IArtifactEntry,
  IArtifactPreview,
  ICell,
  IChanges,
  IDatasetInput,
  IExperiment,
  ILineage,
  ILoggedItem,
  ILoggedModel,
  IMetricSeries,
  IModelReview,
  IModelVersion,
  IRegisteredModel,
  IRegistryEvent,
  IRun,
  IRunColumns,
  IRunPage,
  IRunQuery,
  IRunRow,
  IRunSummary,
  IStoreInfo,
  ViewType,
  XAxis
} from './tokens';

/** A failed request: the server's error code and message, and the HTTP status. */
export class MltrackApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'MltrackApiError';
  }

  /** The server has no such route (an older server, or a feature not there yet). */
  get isMissingRoute(): boolean {
    return this.code === 'ENDPOINT_NOT_FOUND';
  }
}

/** A JSON value as it arrives. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Query = Record<string, string | number | boolean | string[] | null | undefined>;

interface IRequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  query?: Query;
  body?: JsonObject;
  signal?: AbortSignal;
}

const NATIVE = 'mltrack/api';
const MLFLOW = 'mltrack/api/2.0/mlflow';

// wire conversions ---------------------------------------------------------------------------

/** A number as the server sends it: NaN and ±Infinity come as strings. */
export function toNumber(value: Json | undefined): number {
  if (typeof value === 'number') {
    return value;
  }
  if (value === 'Infinity') {
    return Infinity;
  }
  if (value === '-Infinity') {
    return -Infinity;
  }
  if (typeof value === 'string' && value.trim() !== '') {
    return Number(value);
  }
  return NaN;
}

function asObject(value: Json | undefined): JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {};
}

function asArray(value: Json | undefined): Json[] {
  return Array.isArray(value) ? value : [];
}

function str(value: Json | undefined, fallback = ''): string {
  return typeof value === 'string'
    ? value
    : value === null || value === undefined
      ? fallback
      : String(value);
}

function optStr(value: Json | undefined): string | null {
  return value === null || value === undefined ? null : String(value);
}

function optNum(value: Json | undefined): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}

function numberRecord(value: Json | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(asObject(value))) {
    out[k] = toNumber(v);
  }
  return out;
}

function stringRecord(value: Json | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(value)) {
    // [{key, value}] as MLflow sends tags
    for (const item of value) {
      const o = asObject(item);
      out[str(o.key)] = str(o.value);
    }
    return out;
  }
  for (const [k, v] of Object.entries(asObject(value))) {
    out[k] = str(v);
  }
  return out;
}

function numbers(value: Json | undefined): number[] {
  return asArray(value).map(toNumber);
}

function toExperiment(value: Json): IExperiment {
  const o = asObject(value);
  return {
    experiment_id: str(o.experiment_id),
    name: str(o.name),
    artifact_location: str(o.artifact_location),
    lifecycle_stage: str(o.lifecycle_stage, 'active'),
    creation_time: toNumber(o.creation_time),
    last_update_time: toNumber(o.last_update_time),
    tags: stringRecord(o.tags)
  };
}

function toSummary(value: Json): IRunSummary {
  const o = asObject(value);
  return {
    run_id: str(o.run_id),
    run_name: str(o.run_name),
    experiment_id: str(o.experiment_id),
    user_id: optStr(o.user_id),
    status: str(o.status, 'RUNNING') as IRunSummary['status'],
    start_time: toNumber(o.start_time),
    end_time: optNum(o.end_time),
    lifecycle_stage: str(o.lifecycle_stage, 'active'),
    parent_run_id: optStr(o.parent_run_id)
  };
}

function toRow(value: Json): IRunRow {
  const o = asObject(value);
  return {
    ...toSummary(value),
    metrics: numberRecord(o.metrics),
    params: stringRecord(o.params),
    tags: stringRecord(o.tags)
  };
}

function toInput(value: Json): IDatasetInput {
  const o = asObject(value);
  const d = asObject(o.dataset);
  return {
    dataset: {
      name: str(d.name),
      digest: str(d.digest),
      source_type: str(d.source_type),
      source: str(d.source),
      schema: optStr(d.schema),
      profile: optStr(d.profile)
    },
    context: optStr(o.context),
    tags: stringRecord(o.tags)
  };
}

function toRun(value: Json): IRun {
  const o = asObject(value);
  const info = asObject(o.info);
  const data = asObject(o.data);
  return {
    info: { ...toSummary(info), artifact_uri: str(info.artifact_uri) },
    data: {
      metrics: numberRecord(data.metrics),
      params: stringRecord(data.params),
      tags: stringRecord(data.tags)
    },
    inputs: asArray(o.inputs).map(toInput),
    outputs: asArray(o.outputs).map(item => {
      const out = asObject(item);
      return { model_id: str(out.model_id), step: toNumber(out.step) };
    })
  };
}

function toCell(value: Json): ICell {
  const o = asObject(value);
  return {
    run_id: str(o.run_id),
    seq: toNumber(o.seq),
    cell_id: optStr(o.cell_id),
    execution_count: optNum(o.execution_count),
    source: optStr(o.source),
    start_time: toNumber(o.start_time),
    duration_ms: optNum(o.duration_ms),
    outcome: str(o.outcome),
    error_type: optStr(o.error_type),
    error_message: optStr(o.error_message)
  };
}

function toSeries(value: Json): IMetricSeries {
  const o = asObject(value);
  return {
    run_id: str(o.run_id),
    key: str(o.key),
    total_points: toNumber(o.total_points),
    downsampled: o.downsampled === true,
    x: numbers(o.x),
    value: numbers(o.value),
    step: numbers(o.step),
    timestamp: numbers(o.timestamp)
  };
}

function toEntry(value: Json): IArtifactEntry {
  const o = asObject(value);
  return {
    path: str(o.path),
    is_dir: o.is_dir === true,
    file_size: optNum(o.file_size),
    media_type: optStr(o.media_type),
    cell_id: optStr(o.cell_id)
  };
}

function toPreview(value: Json): IArtifactPreview {
  const o = asObject(value);
  const base = { path: str(o.path), size: toNumber(o.size), media_type: str(o.media_type) };
  switch (o.kind) {
    case 'text':
    case 'html':
      return { ...base, kind: o.kind, text: str(o.text), truncated: o.truncated === true };
    case 'json':
      return { ...base, kind: 'json', data: o.data };
    case 'image':
      return { ...base, kind: 'image', data: str(o.data) };
    case 'table':
      return {
        ...base,
        kind: 'table',
        columns: asArray(o.columns).map(c => str(c)),
        rows: asArray(o.rows).map(r => asArray(r)),
        truncated: o.truncated === true
      };
    default:
      return { ...base, kind: 'binary', reason: optStr(o.reason) ?? undefined };
  }
}

function toVersion(value: Json): IModelVersion {
  const o = asObject(value);
  return {
    name: str(o.name),
    version: str(o.version),
    creation_timestamp: toNumber(o.creation_timestamp),
    last_updated_timestamp: toNumber(o.last_updated_timestamp),
    current_stage: str(o.current_stage, 'None'),
    description: str(o.description),
    source: str(o.source),
    run_id: optStr(o.run_id) || null,
    model_id: optStr(o.model_id) || null,
    status: str(o.status, 'READY'),
    tags: stringRecord(o.tags),
    aliases: asArray(o.aliases).map(a => str(a))
  };
}

function toRegisteredModel(value: Json): IRegisteredModel {
  const o = asObject(value);
  const aliases: Record<string, string> = {};
  for (const item of asArray(o.aliases)) {
    const a = asObject(item);
    aliases[str(a.alias)] = str(a.version);
  }
  return {
    name: str(o.name),
    creation_timestamp: toNumber(o.creation_timestamp),
    last_updated_timestamp: toNumber(o.last_updated_timestamp),
    description: str(o.description),
    tags: stringRecord(o.tags),
    aliases,
    latest_versions: asArray(o.latest_versions).map(toVersion)
  };
}

function toLoggedModel(value: Json): ILoggedModel {
  const o = asObject(value);
  const info = asObject(o.info ?? o);
  return {
    model_id: str(info.model_id),
    experiment_id: str(info.experiment_id),
    name: str(info.name),
    artifact_uri: str(info.artifact_uri),
    status: str(info.status),
    source_run_id: optStr(info.source_run_id),
    creation_timestamp_ms: toNumber(info.creation_timestamp_ms),
    model_type: optStr(info.model_type)
  };
}

// the client ---------------------------------------------------------------------------------

/** Quote a key for the filter and order-by grammar (keys may hold dots or spaces). */
export function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : '`' + key.replace(/`/g, '') + '`';
}

/** A string literal of the filter grammar. */
export function quoteValue(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

/**
 * The typed client of the jupyter-mltrack server: native routes under `{base}mltrack/api/` and,
 * for the registry and logged models, MLflow's routes under `{base}mltrack/api/2.0/mlflow/`.
 */
export class MltrackApi {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  /** The URL of a route (for links and logs; requests go through {@link request}). */
  url(path: string, query?: Query): string {
    const base = URLExt.join(this.settings.baseUrl, path);
    const search = query ? MltrackApi.queryString(query) : '';
    return search ? `${base}?${search}` : base;
  }

  private static queryString(query: Query): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null || value === '') {
        continue;
      }
      if (Array.isArray(value)) {
        value.forEach(v => params.append(key, v));
      } else {
        params.append(key, String(value));
      }
    }
    return params.toString();
  }

  private async send(path: string, options: IRequestOptions = {}): Promise<Response> {
    const init: RequestInit = { method: options.method ?? 'GET', signal: options.signal };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        this.url(path, options.query),
        init,
        this.settings
      );
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') {
        throw error;
      }
      const message = error instanceof Error ? error.message : String(error);
      throw new MltrackApiError(`cannot reach the server: ${message}`, 'NETWORK_ERROR', 0);
    }
    if (!response.ok) {
      throw await MltrackApi.errorOf(response);
    }
    return response;
  }

  private static async errorOf(response: Response): Promise<MltrackApiError> {
    const text = await response.text();
    let body: JsonObject = {};
    try {
      body = asObject(JSON.parse(text) as Json);
    } catch {
      // not JSON: an HTML error page from the server or a proxy
    }
    if (typeof body.error_code === 'string') {
      return new MltrackApiError(str(body.message), body.error_code, response.status);
    }
    const code = response.status === 404 ? 'ENDPOINT_NOT_FOUND' : 'HTTP_ERROR';
    const message = str(body.message) || `${response.status} ${response.statusText}`;
    return new MltrackApiError(message, code, response.status);
  }

  private async json(path: string, options: IRequestOptions = {}): Promise<JsonObject> {
    const response = await this.send(path, options);
    const text = await response.text();
    if (!text) {
      return {};
    }
    try {
      return asObject(JSON.parse(text) as Json);
    } catch {
      throw new MltrackApiError(`the server sent invalid JSON for ${path}`, 'BAD_RESPONSE', 200);
    }
  }

  // store --------------------------------------------------------------------------------------

  /** Where the store is, its counts, the server's limits. */
  async info(): Promise<IStoreInfo> {
    const o = await this.json(`${NATIVE}/info`);
    return {
      store: str(o.store),
      version: str(o.version),
      counts: numberRecord(o.counts),
      limits: numberRecord(o.limits)
    };
  }

  // experiments ----------------------------------------------------------------------------------

  /** Every experiment (active ones unless told otherwise). */
  async experiments(viewType: ViewType = 'ACTIVE_ONLY'): Promise<IExperiment[]> {
    const out: IExperiment[] = [];
    let token: string | null = null;
    do {
      const o: JsonObject = await this.json(`${NATIVE}/experiments`, {
        query: { view_type: viewType, max_results: 1000, page_token: token }
      });
      out.push(...asArray(o.experiments).map(toExperiment));
      token = optStr(o.next_page_token);
    } while (token);
    return out;
  }

  /** Rename an experiment. */
  async renameExperiment(experimentId: string, name: string): Promise<IExperiment> {
    const o = await this.json(`${NATIVE}/experiments/${encodeURIComponent(experimentId)}`, {
      method: 'PATCH',
      body: { name }
    });
    return toExperiment(o.experiment);
  }

  // runs -------------------------------------------------------------------------------------------

  /** One page of a runs table with the chosen columns. */
  async runs(query: IRunQuery, signal?: AbortSignal): Promise<IRunPage> {
    const o = await this.json(`${NATIVE}/runs`, {
      signal,
      query: {
        experiment_id: query.experimentIds,
        filter: query.filter?.trim() || undefined,
        view_type: query.viewType,
        order_by: query.orderBy,
        max_results: query.maxResults,
        page_token: query.pageToken,
        metric: query.metrics?.length ? query.metrics : undefined,
        param: query.params?.length ? query.params : undefined,
        tag: query.tags?.length ? query.tags : undefined
      }
    });
    return {
      runs: asArray(o.runs).map(toRow),
      next_page_token: optStr(o.next_page_token),
      total: toNumber(o.total)
    };
  }

  /** The metric, param and tag keys that runs of these experiments carry. */
  async runColumns(experimentIds: string[]): Promise<IRunColumns> {
    const o = await this.json(`${NATIVE}/run-columns`, { query: { experiment_id: experimentIds } });
    return {
      metrics: asArray(o.metrics).map(k => str(k)),
      params: asArray(o.params).map(k => str(k)),
      tags: asArray(o.tags).map(k => str(k))
    };
  }

  private runPath(runId: string, rest = ''): string {
    return `${NATIVE}/runs/${encodeURIComponent(runId)}${rest}`;
  }

  /** A run's details. */
  async run(runId: string): Promise<IRun> {
    return toRun((await this.json(this.runPath(runId))).run);
  }

  /** Rename a run, set tags, or delete them (a null value). */
  async updateRun(
    runId: string,
    change: { run_name?: string; tags?: Record<string, string | null> }
  ): Promise<IRun> {
    const body: JsonObject = {};
    if (change.run_name !== undefined) {
      body.run_name = change.run_name;
    }
    if (change.tags !== undefined) {
      body.tags = change.tags;
    }
    return toRun((await this.json(this.runPath(runId), { method: 'PATCH', body })).run);
  }

  /** Mark a run deleted. */
  async deleteRun(runId: string): Promise<IRun> {
    return toRun((await this.json(this.runPath(runId), { method: 'DELETE' })).run);
  }

  /** Bring a deleted run back. */
  async restoreRun(runId: string): Promise<IRun> {
    return toRun((await this.json(this.runPath(runId, '/restore'), { method: 'POST' })).run);
  }

  /** The notebook cells executed while a run was active, in order. */
  async cells(runId: string): Promise<ICell[]> {
    return asArray((await this.json(this.runPath(runId, '/cells'))).cells).map(toCell);
  }

  /**
   * Everything a run logged with the cell it came from; null when the server does not offer
   * the route (then only artifacts can be tied to cells, through their listing).
   */
  async loggedItems(runId: string): Promise<ILoggedItem[] | null> {
    try {
      const o = await this.json(this.runPath(runId, '/items'));
      return asArray(o.items).map(item => {
        const i = asObject(item);
        return {
          kind: str(i.kind) as ILoggedItem['kind'],
          key: str(i.key),
          cell_id: optStr(i.cell_id),
          value: optStr(i.value),
          first_step: optNum(i.first_step),
          last_step: optNum(i.last_step),
          points: toNumber(i.points ?? 1)
        };
      });
    } catch (error) {
      if (error instanceof MltrackApiError && error.isMissingRoute) {
        return null;
      }
      throw error;
    }
  }

  /** A run's ancestors, children and dataset inputs. */
  async lineage(runId: string): Promise<ILineage> {
    const o = await this.json(this.runPath(runId, '/lineage'));
    return {
      run: toSummary(o.run),
      ancestors: asArray(o.ancestors).map(toSummary),
      children: asArray(o.children).map(toSummary),
      inputs: asArray(o.inputs).map(toInput)
    };
  }

  // metrics ----------------------------------------------------------------------------------------

  /**
   * Histories of `keys` for each run, each downsampled by the server to at most `points`
   * points (extremes kept). Requests of more than 100 series are split.
   */
  async metricHistories(
    runIds: string[],
    keys: string[],
    points: number,
    x: XAxis = 'step',
    signal?: AbortSignal
  ): Promise<IMetricSeries[]> {
    if (!runIds.length || !keys.length) {
      return [];
    }
    const perRequest = Math.max(1, Math.floor(100 / keys.length));
    const chunks: string[][] = [];
    for (let i = 0; i < runIds.length; i += perRequest) {
      chunks.push(runIds.slice(i, i + perRequest));
    }
    const answers = await Promise.all(
      chunks.map(ids =>
        this.json(`${NATIVE}/metric-histories`, {
          signal,
          query: { run_id: ids, key: keys, points: Math.max(4, Math.round(points)), x }
        })
      )
    );
    return answers.flatMap(o => asArray(o.series).map(toSeries));
  }

  // artifacts --------------------------------------------------------------------------------------

  /** One folder of a run's artifacts ('' is the root). */
  async artifacts(runId: string, path = ''): Promise<IArtifactEntry[]> {
    const o = await this.json(this.runPath(runId, '/artifacts'), { query: { path } });
    return asArray(o.files).map(toEntry);
  }

  /** Every artifact file of a run (with the cell that logged each). */
  async allArtifacts(runId: string): Promise<IArtifactEntry[]> {
    const o = await this.json(this.runPath(runId, '/artifacts'), {
      query: { path: '', recursive: 'true' }
    });
    return asArray(o.files).map(toEntry);
  }

  /** A bounded description of one artifact file for an inline view. */
  async artifactPreview(runId: string, path: string): Promise<IArtifactPreview> {
    return toPreview(
      await this.json(this.runPath(runId, '/artifacts/preview'), { query: { path } })
    );
  }

  /** An artifact file's bytes. */
  async artifactBlob(runId: string, path: string): Promise<Blob> {
    const response = await this.send(this.runPath(runId, '/artifacts/file'), { query: { path } });
    return response.blob();
  }

  // the change feed ----------------------------------------------------------------------------

  /**
   * What changed since `cursor` (everything, `reset`, without one). With `wait` seconds the
   * server holds the request until something changes.
   */
  async changes(cursor: string | null, wait: number, signal?: AbortSignal): Promise<IChanges> {
    const o = await this.json(`${NATIVE}/changes`, {
      signal,
      query: { since: cursor, wait: cursor ? wait : undefined }
    });
    return {
      cursor: str(o.cursor),
      reset: o.reset === true,
      experiments: asArray(o.experiments).map(toExperiment),
      runs: asArray(o.runs).map(toSummary),
      removed_runs: asArray(o.removed_runs).map(r => str(r)),
      metrics: asArray(o.metrics).map(item => {
        const m = asObject(item);
        return {
          run_id: str(m.run_id),
          key: str(m.key),
          value: toNumber(m.value),
          step: toNumber(m.step),
          timestamp: toNumber(m.timestamp)
        };
      })
    };
  }

  // logged models and the registry (MLflow's REST API) ------------------------------------

  /** A logged model. */
  async loggedModel(modelId: string): Promise<ILoggedModel> {
    const o = await this.json(`${MLFLOW}/logged-models/${encodeURIComponent(modelId)}`);
    return toLoggedModel(o.model);
  }

  /** Registered models whose name matches `search` (a substring; all when empty). */
  async registeredModels(search = ''): Promise<IRegisteredModel[]> {
    const out: IRegisteredModel[] = [];
    let token: string | null = null;
    const filter = search.trim()
      ? `name ILIKE ${quoteValue('%' + search.trim() + '%')}`
      : undefined;
    do {
      const o: JsonObject = await this.json(`${MLFLOW}/registered-models/search`, {
        query: { filter, max_results: 1000, page_token: token }
      });
      out.push(...asArray(o.registered_models).map(toRegisteredModel));
      token = optStr(o.next_page_token);
    } while (token);
    return out;
  }

  /** One registered model. */
  async registeredModel(name: string): Promise<IRegisteredModel> {
    const o = await this.json(`${MLFLOW}/registered-models/get`, { query: { name } });
    return toRegisteredModel(o.registered_model);
  }

  /** Every version of a model, newest first. */
  async modelVersions(name: string): Promise<IModelVersion[]> {
    const out: IModelVersion[] = [];
    let token: string | null = null;
    do {
      const o: JsonObject = await this.json(`${MLFLOW}/model-versions/search`, {
        query: { filter: `name = ${quoteValue(name)}`, max_results: 1000, page_token: token }
      });
      out.push(...asArray(o.model_versions).map(toVersion));
      token = optStr(o.next_page_token);
    } while (token);
    return out.sort((a, b) => Number(b.version) - Number(a.version));
  }

  /**
   * Register a model as a new version of `name` (creating the registered model if needed).
   *
   * @param source `models:/<model_id>` for a logged model, or `runs:/<run_id>/<path>`.
   */
  async registerModel(
    name: string,
    source: string,
    runId: string | null,
    modelId: string | null
  ): Promise<IModelVersion> {
    try {
      await this.json(`${MLFLOW}/registered-models/create`, { method: 'POST', body: { name } });
    } catch (error) {
      if (!(error instanceof MltrackApiError && error.code === 'RESOURCE_ALREADY_EXISTS')) {
        throw error;
      }
    }
    const body: JsonObject = { name, source };
    if (runId) {
      body.run_id = runId;
    }
    if (modelId) {
      body.model_id = modelId;
    }
    const o = await this.json(`${MLFLOW}/model-versions/create`, { method: 'POST', body });
    return toVersion(o.model_version);
  }

  /** Point an alias at a version (moving it if another version held it). */
  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.json(`${MLFLOW}/registered-models/alias`, {
      method: 'POST',
      body: { name, alias, version }
    });
  }

  /** Remove an alias. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.json(`${MLFLOW}/registered-models/alias`, {
      method: 'DELETE',
      body: { name, alias }
    });
  }

  /** Move a version to a stage (optionally archiving the versions now in it). */
  async transitionStage(
    name: string,
    version: string,
    stage: string,
    archiveExisting: boolean
  ): Promise<IModelVersion> {
    const o = await this.json(`${MLFLOW}/model-versions/transition-stage`, {
      method: 'POST',
      body: { name, version, stage, archive_existing_versions: archiveExisting }
    });
    return toVersion(o.model_version);
  }

  /** Change a version's description. */
  async updateVersionDescription(
    name: string,
    version: string,
    description: string
  ): Promise<IModelVersion> {
    const o = await this.json(`${MLFLOW}/model-versions/update`, {
      method: 'PATCH',
      body: { name, version, description }
    });
    return toVersion(o.model_version);
  }

  /** Change a registered model's description. */
  async updateModelDescription(name: string, description: string): Promise<IRegisteredModel> {
    const o = await this.json(`${MLFLOW}/registered-models/update`, {
      method: 'PATCH',
      body: { name, description }
    });
    return toRegisteredModel(o.registered_model);
  }

  /**
   * The native path of a registered model (and what follows it). Names are percent-encoded
   * one segment, "/" as %2F and "." as %2E so a "." or ".." name does not fold away.
   */
  private modelPath(name: string, rest = ''): string {
    const segment = encodeURIComponent(name).replace(/\./g, '%2E');
    return `${NATIVE}/registered-models/${segment}${rest}`;
  }

  /**
   * The recorded changes of a model, or of one version (comments, approval decisions, stage
   * and alias changes, with who and when), oldest first as the server sends them. Empty when
   * nothing is recorded; null when the server does not offer the route.
   */
  async registryHistory(
    name: string,
    options: { version?: string; kinds?: string[] } = {}
  ): Promise<IRegistryEvent[] | null> {
    let o: JsonObject;
    try {
      o = await this.json(this.modelPath(name, '/history'), {
        query: { version: options.version, kind: options.kinds }
      });
    } catch (error) {
      if (error instanceof MltrackApiError) {
        if (error.isMissingRoute) {
          return null;
        }
        if (error.code === 'RESOURCE_DOES_NOT_EXIST') {
          return []; // the server answers 404 when there are no events
        }
      }
      throw error;
    }
    return asArray(o.events).map(item => {
      const e = asObject(item);
      return {
        seq: toNumber(e.seq),
        time: toNumber(e.time),
        user_id: optStr(e.user_id),
        name: str(e.name),
        version: e.version === null || e.version === undefined ? null : String(e.version),
        kind: str(e.kind),
        detail: asObject(e.detail)
      };
    });
  }

  /**
   * Comment on a version and/or set its approval; the review goes into the history. At least
   * one of comment and approval. Returns the version after the review.
   */
  async reviewModelVersion(
    name: string,
    version: string,
    review: IModelReview
  ): Promise<IModelVersion> {
    const o = await this.json(
      this.modelPath(name, `/versions/${encodeURIComponent(version)}/reviews`),
      { method: 'POST', body: { comment: review.comment, approval: review.approval } }
    );
    return toVersion(o.model_version);
  }
}

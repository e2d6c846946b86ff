/**
 * The one module that talks HTTP. Every request to the jupyter-mltrack server goes through
 * {@link MltrackApi}, over JupyterLab's `ServerConnection` (so the token, XSRF header and base
 * URL are those of the page); views never call `fetch` themselves.
 *
 * The lab speaks the server's native API only (`{base}mltrack/api/...`, described by
 * `jupyter_mltrack/server/openapi.yaml`). Routes, their path and query arguments and request
 * bodies are typed from that spec (generated at build time), so a route the spec does not have
 * does not compile; `decode.ts` turns the answers into the interfaces of `tokens.ts`. Every
 * failure becomes one error type, {@link MltrackApiError}.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  IWire,
  Json,
  JsonObject,
  WireError,
  list,
  nullableText,
  required,
  toCell,
  toChanges,
  toEntry,
  toExperiment,
  toLineage,
  toLoggedItem,
  toLoggedModel,
  toPreview,
  toRegisteredModel,
  toRegistryEvent,
  toRun,
  toRunColumns,
  toRunPage,
  toSeries,
  toStoreInfo,
  toVersion,
  wire
} from './decode';
import type { paths } from './generated/openapi';
import {
  IArtifactEntry,
  IArtifactPreview,
  ICell,
  IChanges,
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

/** A readable message for any error. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

// routes, typed from the spec ----------------------------------------------------------------

/** Every route of the native API, as the spec writes it: `/api/runs/{run_id}`. */
type Route = keyof paths;
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** The methods the spec declares for a route. */
type MethodOf<P extends Route> = {
  [M in Method]: paths[P][M] extends undefined ? never : M;
}[Method];
type Operation<P extends Route, M extends Method> = NonNullable<paths[P][M]>;
/** The path arguments of a route (`{run_id: string}`), or never when it has none. */
type PathArgs<P extends Route> = paths[P]['parameters'] extends { path: infer A } ? A : never;
/** The query arguments the spec declares for an operation. */
type QueryName<P extends Route, M extends Method> =
  Operation<P, M> extends { parameters: { query?: infer Q } }
    ? [NonNullable<Q>] extends [never]
      ? never
      : keyof NonNullable<Q> & string
    : never;
/** The JSON body the spec declares for an operation. */
type BodyOf<P extends Route, M extends Method> =
  Operation<P, M> extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;
/** The JSON the spec says a successful answer holds. */
type AnswerOf<P extends Route, M extends Method> =
  Operation<P, M> extends { responses: infer R }
    ? R extends { 200: { content: { 'application/json': infer B } } }
      ? B
      : R extends { 201: { content: { 'application/json': infer B } } }
        ? B
        : unknown
    : unknown;

type QueryValue = string | number | boolean | string[] | null | undefined;

interface IRequest<P extends Route, M extends Method> {
  method: M;
  route: P;
  path?: PathArgs<P>;
  query?: { [K in QueryName<P, M>]?: QueryValue };
  body?: BodyOf<P, M>;
  signal?: AbortSignal;
}

/**
 * One path segment, percent-encoded: "/" as %2F and "." as %2E, so a model named "a/b", "."
 * or ".." stays one segment and does not fold away.
 */
function segment(value: string): string {
  return encodeURIComponent(value).replace(/\./g, '%2E');
}

/** Fill a route's `{arguments}` in. */
function fill(route: string, args: Record<string, string> | undefined): string {
  return route.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = args?.[name];
    if (value === undefined) {
      throw new Error(`no value for {${name}} of ${route}`);
    }
    return segment(value);
  });
}

/** Quote a key for the filter and order-by grammar (keys may hold dots or spaces). */
export function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : '`' + key.replace(/`/g, '') + '`';
}

/** A string literal of the filter grammar. */
export function quoteValue(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

// the client ---------------------------------------------------------------------------------

/** The prefix of every route of the native API (the spec's server URL). */
const PREFIX = 'mltrack';

/** The typed client of the jupyter-mltrack server's native API. */
export class MltrackApi {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  private url(path: string, query?: Record<string, QueryValue>): string {
    const base = URLExt.join(this.settings.baseUrl, path);
    const search = query ? MltrackApi.queryString(query) : '';
    return search ? `${base}?${search}` : base;
  }

  private static queryString(query: Record<string, QueryValue>): string {
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

  private async send<P extends Route, M extends MethodOf<P>>(
    request: IRequest<P, M>
  ): Promise<Response> {
    const path = PREFIX + fill(request.route, request.path as Record<string, string> | undefined);
    const init: RequestInit = { method: request.method.toUpperCase(), signal: request.signal };
    if (request.body !== undefined) {
      init.body = JSON.stringify(request.body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        this.url(path, request.query),
        init,
        this.settings
      );
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') {
        throw error;
      }
      throw new MltrackApiError(`cannot reach the server: ${messageOf(error)}`, 'NETWORK_ERROR', 0);
    }
    if (!response.ok) {
      throw await MltrackApi.errorOf(response);
    }
    return response;
  }

  private static async errorOf(response: Response): Promise<MltrackApiError> {
    const text = await response.text();
    let body: Json = null;
    try {
      body = JSON.parse(text) as Json;
    } catch {
      // not JSON: an HTML error page from the server or a proxy
    }
    const o: JsonObject = body && typeof body === 'object' && !Array.isArray(body) ? body : {};
    const message = typeof o.message === 'string' ? o.message : '';
    if (typeof o.error_code === 'string') {
      return new MltrackApiError(message, o.error_code, response.status);
    }
    const code = response.status === 404 ? 'ENDPOINT_NOT_FOUND' : 'HTTP_ERROR';
    return new MltrackApiError(
      message || `${response.status} ${response.statusText}`,
      code,
      response.status
    );
  }

  /**
   * Send a request and read its JSON answer with `decode`. An answer without the shape the
   * spec gives it is a BAD_RESPONSE error naming the route and the field.
   */
  private async call<P extends Route, M extends MethodOf<P>, T>(
    request: IRequest<P, M>,
    decode: (answer: IWire<AnswerOf<P, M>>) => T
  ): Promise<T> {
    const response = await this.send(request);
    const where = `${request.method.toUpperCase()} ${request.route}`;
    const text = await response.text();
    let answer: Json;
    try {
      answer = text ? (JSON.parse(text) as Json) : {};
    } catch {
      throw new MltrackApiError(`the server sent invalid JSON for ${where}`, 'BAD_RESPONSE', 200);
    }
    try {
      return decode(wire<AnswerOf<P, M>>(answer, `answer of ${where}`));
    } catch (error) {
      if (error instanceof WireError) {
        throw new MltrackApiError(
          `unexpected answer of ${where}: ${error.message}`,
          'BAD_RESPONSE',
          response.status
        );
      }
      throw error;
    }
  }

  /** Send a request whose answer carries nothing the caller needs. */
  private async act<P extends Route, M extends MethodOf<P>>(
    request: IRequest<P, M>
  ): Promise<void> {
    await this.call(request, () => undefined);
  }

  /** Every page of a paged listing. */
  private async pages<T>(
    load: (token: string | null) => Promise<[T[], string | null]>
  ): Promise<T[]> {
    const out: T[] = [];
    let token: string | null = null;
    do {
      const [items, next]: [T[], string | null] = await load(token);
      out.push(...items);
      token = next;
    } while (token);
    return out;
  }

  // store --------------------------------------------------------------------------------------

  /** Where the store is, its counts, the server's limits. */
  async info(): Promise<IStoreInfo> {
    return this.call({ method: 'get', route: '/api/info' }, o => toStoreInfo(o.fields));
  }

  // experiments ----------------------------------------------------------------------------------

  /** Every experiment (active ones unless told otherwise). */
  async experiments(
    viewType: ViewType = 'ACTIVE_ONLY',
    signal?: AbortSignal
  ): Promise<IExperiment[]> {
    return this.pages(token =>
      this.call(
        {
          method: 'get',
          route: '/api/experiments',
          query: { view_type: viewType, max_results: 1000, page_token: token },
          signal
        },
        o => [list(o, 'experiments').map(toExperiment), nullableText(o, 'next_page_token')]
      )
    );
  }

  /** Rename an experiment. */
  async renameExperiment(experimentId: string, name: string): Promise<IExperiment> {
    return this.call(
      {
        method: 'patch',
        route: '/api/experiments/{experiment_id}',
        path: { experiment_id: experimentId },
        body: { name }
      },
      o => toExperiment(required(o, 'experiment'))
    );
  }

  // runs -------------------------------------------------------------------------------------------

  /** One page of a runs table with the chosen columns. */
  async runs(query: IRunQuery, signal?: AbortSignal): Promise<IRunPage> {
    return this.call(
      {
        method: 'get',
        route: '/api/runs',
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
      },
      o => toRunPage(o.fields)
    );
  }

  /** The metric, param and tag keys that runs of these experiments carry. */
  async runColumns(experimentIds: string[], signal?: AbortSignal): Promise<IRunColumns> {
    return this.call(
      { method: 'get', route: '/api/run-columns', query: { experiment_id: experimentIds }, signal },
      o => toRunColumns(o.fields)
    );
  }

  /** A run's details. */
  async run(runId: string, signal?: AbortSignal): Promise<IRun> {
    return this.call(
      { method: 'get', route: '/api/runs/{run_id}', path: { run_id: runId }, signal },
      o => toRun(required(o, 'run'))
    );
  }

  /** Rename a run, set tags, or delete them (a null value). */
  async updateRun(
    runId: string,
    change: { run_name?: string; tags?: Record<string, string | null> }
  ): Promise<IRun> {
    return this.call(
      { method: 'patch', route: '/api/runs/{run_id}', path: { run_id: runId }, body: change },
      o => toRun(required(o, 'run'))
    );
  }

  /** Mark a run deleted. */
  async deleteRun(runId: string): Promise<IRun> {
    return this.call(
      { method: 'delete', route: '/api/runs/{run_id}', path: { run_id: runId } },
      o => toRun(required(o, 'run'))
    );
  }

  /** Bring a deleted run back. */
  async restoreRun(runId: string): Promise<IRun> {
    return this.call(
      { method: 'post', route: '/api/runs/{run_id}/restore', path: { run_id: runId } },
      o => toRun(required(o, 'run'))
    );
  }

  /** The notebook cells executed while a run was active, in order. */
  async cells(runId: string, signal?: AbortSignal): Promise<ICell[]> {
    return this.call(
      { method: 'get', route: '/api/runs/{run_id}/cells', path: { run_id: runId }, signal },
      o => list(o, 'cells').map(toCell)
    );
  }

  /**
   * Everything a run logged with the cell it came from; null when the server does not offer
   * the route (then only artifacts can be tied to cells, through their listing).
   */
  async loggedItems(runId: string, signal?: AbortSignal): Promise<ILoggedItem[] | null> {
    try {
      return await this.call(
        { method: 'get', route: '/api/runs/{run_id}/items', path: { run_id: runId }, signal },
        o => list(o, 'items').map(toLoggedItem)
      );
    } catch (error) {
      if (error instanceof MltrackApiError && error.isMissingRoute) {
        return null;
      }
      throw error;
    }
  }

  /** A run's ancestors, children and dataset inputs. */
  async lineage(runId: string, signal?: AbortSignal): Promise<ILineage> {
    return this.call(
      { method: 'get', route: '/api/runs/{run_id}/lineage', path: { run_id: runId }, signal },
      o => toLineage(o.fields)
    );
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
        this.call(
          {
            method: 'get',
            route: '/api/metric-histories',
            signal,
            query: { run_id: ids, key: keys, points: Math.max(4, Math.round(points)), x }
          },
          o => list(o, 'series').map(toSeries)
        )
      )
    );
    return answers.flat();
  }

  // artifacts --------------------------------------------------------------------------------------

  /** One folder of a run's artifacts ('' is the root). */
  async artifacts(runId: string, path = '', signal?: AbortSignal): Promise<IArtifactEntry[]> {
    return this.call(
      {
        method: 'get',
        route: '/api/runs/{run_id}/artifacts',
        path: { run_id: runId },
        query: { path },
        signal
      },
      o => list(o, 'files').map(toEntry)
    );
  }

  /** Every artifact file of a run (with the cell that logged each). */
  async allArtifacts(runId: string, signal?: AbortSignal): Promise<IArtifactEntry[]> {
    return this.call(
      {
        method: 'get',
        route: '/api/runs/{run_id}/artifacts',
        path: { run_id: runId },
        query: { path: '', recursive: 'true' },
        signal
      },
      o => list(o, 'files').map(toEntry)
    );
  }

  /** A bounded description of one artifact file for an inline view. */
  async artifactPreview(
    runId: string,
    path: string,
    signal?: AbortSignal
  ): Promise<IArtifactPreview> {
    return this.call(
      {
        method: 'get',
        route: '/api/runs/{run_id}/artifacts/preview',
        path: { run_id: runId },
        query: { path },
        signal
      },
      o => toPreview(o.fields)
    );
  }

  /** An artifact file's bytes. */
  async artifactBlob(runId: string, path: string, signal?: AbortSignal): Promise<Blob> {
    const response = await this.send({
      method: 'get',
      route: '/api/runs/{run_id}/artifacts/file',
      path: { run_id: runId },
      query: { path },
      signal
    });
    return response.blob();
  }

  // the change feed ----------------------------------------------------------------------------

  /**
   * What changed since `cursor` (everything, `reset`, without one). With `wait` seconds the
   * server holds the request until something changes.
   */
  async changes(cursor: string | null, wait: number, signal?: AbortSignal): Promise<IChanges> {
    return this.call(
      {
        method: 'get',
        route: '/api/changes',
        signal,
        query: { since: cursor, wait: cursor ? wait : undefined }
      },
      o => toChanges(o.fields)
    );
  }

  // logged models and the registry -------------------------------------------------------------

  /** A logged model. */
  async loggedModel(modelId: string, signal?: AbortSignal): Promise<ILoggedModel> {
    return this.call(
      {
        method: 'get',
        route: '/api/logged-models/{model_id}',
        path: { model_id: modelId },
        signal
      },
      o => toLoggedModel(required(o, 'logged_model'))
    );
  }

  /** Registered models whose name matches `search` (a substring; all when empty). */
  async registeredModels(search = '', signal?: AbortSignal): Promise<IRegisteredModel[]> {
    const filter = search.trim()
      ? `name ILIKE ${quoteValue('%' + search.trim() + '%')}`
      : undefined;
    return this.pages(token =>
      this.call(
        {
          method: 'get',
          route: '/api/registered-models',
          query: { filter, max_results: 1000, page_token: token },
          signal
        },
        o => [
          list(o, 'registered_models').map(toRegisteredModel),
          nullableText(o, 'next_page_token')
        ]
      )
    );
  }

  /** One registered model. */
  async registeredModel(name: string, signal?: AbortSignal): Promise<IRegisteredModel> {
    return this.call(
      { method: 'get', route: '/api/registered-models/{name}', path: { name }, signal },
      o => toRegisteredModel(required(o, 'registered_model'))
    );
  }

  /** Every version of a model, newest first. */
  async modelVersions(name: string, signal?: AbortSignal): Promise<IModelVersion[]> {
    const versions = await this.pages(token =>
      this.call(
        {
          method: 'get',
          route: '/api/model-versions',
          query: { filter: `name = ${quoteValue(name)}`, max_results: 1000, page_token: token },
          signal
        },
        o => [list(o, 'model_versions').map(toVersion), nullableText(o, 'next_page_token')]
      )
    );
    return versions.sort((a, b) => Number(b.version) - Number(a.version));
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
      await this.act({ method: 'post', route: '/api/registered-models', body: { name } });
    } catch (error) {
      if (!(error instanceof MltrackApiError && error.code === 'RESOURCE_ALREADY_EXISTS')) {
        throw error;
      }
    }
    return this.call(
      {
        method: 'post',
        route: '/api/registered-models/{name}/versions',
        path: { name },
        body: { source, run_id: runId, model_id: modelId }
      },
      o => toVersion(required(o, 'model_version'))
    );
  }

  /** Point an alias at a version (moving it if another version held it). */
  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.act({
      method: 'put',
      route: '/api/registered-models/{name}/aliases/{alias}',
      path: { name, alias },
      body: { version }
    });
  }

  /** Remove an alias. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.act({
      method: 'delete',
      route: '/api/registered-models/{name}/aliases/{alias}',
      path: { name, alias }
    });
  }

  /** Move a version to a stage (optionally archiving the versions now in it). */
  async transitionStage(
    name: string,
    version: string,
    stage: string,
    archiveExisting: boolean
  ): Promise<IModelVersion> {
    return this.call(
      {
        method: 'patch',
        route: '/api/registered-models/{name}/versions/{version}/stage',
        path: { name, version },
        body: { stage, archive_existing_versions: archiveExisting }
      },
      o => toVersion(required(o, 'model_version'))
    );
  }

  /** Change a version's description. */
  async updateVersionDescription(
    name: string,
    version: string,
    description: string
  ): Promise<IModelVersion> {
    return this.call(
      {
        method: 'patch',
        route: '/api/registered-models/{name}/versions/{version}',
        path: { name, version },
        body: { description }
      },
      o => toVersion(required(o, 'model_version'))
    );
  }

  /** Change a registered model's description. */
  async updateModelDescription(name: string, description: string): Promise<IRegisteredModel> {
    return this.call(
      {
        method: 'patch',
        route: '/api/registered-models/{name}',
        path: { name },
        body: { description }
      },
      o => toRegisteredModel(required(o, 'registered_model'))
    );
  }

  /**
   * The recorded changes of a model, or of one version (comments, approval decisions, stage
   * and alias changes, with who and when), oldest first as the server sends them. Empty when
   * nothing is recorded; null when the server does not offer the route.
   */
  async registryHistory(
    name: string,
    options: { version?: string; kinds?: string[] } = {},
    signal?: AbortSignal
  ): Promise<IRegistryEvent[] | null> {
    try {
      return await this.call(
        {
          method: 'get',
          route: '/api/registered-models/{name}/history',
          path: { name },
          query: { version: options.version, kind: options.kinds },
          signal
        },
        o => list(o, 'events').map(toRegistryEvent)
      );
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
    return this.call(
      {
        method: 'post',
        route: '/api/registered-models/{name}/versions/{version}/reviews',
        path: { name, version },
        body: { comment: review.comment, approval: review.approval }
      },
      o => toVersion(required(o, 'model_version'))
    );
  }
}

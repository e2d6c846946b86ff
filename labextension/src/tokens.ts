/**
 * What other JupyterLab extensions can depend on: the tokens {@link IMltrackApi} (the typed
 * client of the server) and {@link IRunsModel} (the sidebar's experiments, runs and selection,
 * kept current by the change feed), and the interfaces shared by the extension: the server's
 * entities (as the views see them, after `decode.ts` has turned wire values into numbers), the
 * settings and the command ids.
 *
 * The entity shapes mirror the server's native API, `jupyter_mltrack/server/openapi.yaml`.
 */

import { Token } from '@lumino/coreutils';

import type { MltrackApi } from './api';
import type { RunsModel } from './model';

/** The typed client of the jupyter-mltrack server (provided by `jupyter-mltrack:api`). */
export const IMltrackApi = new Token<MltrackApi>(
  'jupyter-mltrack:IMltrackApi',
  'The typed client of the jupyter-mltrack server: runs, metrics, artifacts, the registry.'
);

/** The runs sidebar's state (provided by `jupyter-mltrack:plugin`). */
export const IRunsModel = new Token<RunsModel>(
  'jupyter-mltrack:IRunsModel',
  'The experiments and runs the ML Tracking sidebar shows, its selection, and its change feed.'
);

/** A run's status, as in MLflow. */
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

/** Which lifecycle stages a listing returns. */
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

/** An experiment: a named group of runs. */
export interface IExperiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: string;
  creation_time: number;
  last_update_time: number;
  tags: Record<string, string>;
}

/** The fields every run summary carries (a runs-table row without its columns). */
export interface IRunSummary {
  run_id: string;
  run_name: string;
  experiment_id: string;
  user_id: string | null;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: string;
  parent_run_id: string | null;
}

/** One row of a runs table: a summary plus the chosen metric, param and tag columns. */
export interface IRunRow extends IRunSummary {
  metrics: Record<string, number>;
  params: Record<string, string>;
  tags: Record<string, string>;
  /**
   * Whether `parent_run_id` names a run the store does not have (a run copied before its
   * parent, a partial import): the table shows the run at the top level, with a note.
   */
  parent_missing?: boolean;
}

/** One page of a runs table. */
export interface IRunPage {
  runs: IRunRow[];
  next_page_token: string | null;
  /** How many runs match over all pages. */
  total: number;
}

/** The keys a runs table of some experiments can show. */
export interface IRunColumns {
  metrics: string[];
  params: string[];
  tags: string[];
}

/** What a runs-table request asks for. */
export interface IRunQuery {
  experimentIds: string[];
  filter?: string;
  viewType?: ViewType;
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string | null;
  metrics?: string[];
  params?: string[];
  tags?: string[];
}

/** A run's identity and state. */
export interface IRunInfo extends IRunSummary {
  artifact_uri: string;
}

/** A dataset a run used. */
export interface IDataset {
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema: string | null;
  profile: string | null;
}

/** One dataset input of a run. */
export interface IDatasetInput {
  dataset: IDataset;
  context: string | null;
  tags: Record<string, string>;
}

/** A logged model a run produced. */
export interface IRunOutput {
  model_id: string;
  step: number;
}

/** A run's details. */
export interface IRun {
  info: IRunInfo;
  data: {
    metrics: Record<string, number>;
    params: Record<string, string>;
    tags: Record<string, string>;
  };
  inputs: IDatasetInput[];
  outputs: IRunOutput[];
}

/** One executed notebook cell of a run. */
export interface ICell {
  run_id: string;
  seq: number;
  cell_id: string | null;
  execution_count: number | null;
  source: string | null;
  start_time: number;
  duration_ms: number | null;
  outcome: string;
  error_type: string | null;
  error_message: string | null;
}

/** Something a run logged, with the cell it came from (the `items` route). */
export interface ILoggedItem {
  kind: 'param' | 'tag' | 'metric' | 'artifact' | 'input';
  key: string;
  cell_id: string | null;
  value: string | null;
  first_step: number | null;
  last_step: number | null;
  points: number;
}

/** Where a run sits: parents, children, datasets. */
export interface ILineage {
  run: IRunSummary;
  ancestors: IRunSummary[];
  children: IRunSummary[];
  inputs: IDatasetInput[];
}

/** The x axis of a metric chart. */
export type XAxis = 'step' | 'wall' | 'relative';

/** One metric history of one run, downsampled by the server. */
export interface IMetricSeries {
  run_id: string;
  key: string;
  total_points: number;
  downsampled: boolean;
  x: number[];
  value: number[];
  step: number[];
  timestamp: number[];
}

/** One entry of an artifact folder. */
export interface IArtifactEntry {
  path: string;
  is_dir: boolean;
  file_size: number | null;
  media_type: string | null;
  cell_id: string | null;
}

/** A bounded description of one artifact file, for an inline view. */
export type IArtifactPreview = {
  path: string;
  size: number;
  media_type: string;
} & (
  | { kind: 'text' | 'html'; text: string; truncated: boolean }
  | { kind: 'json'; data: unknown }
  | { kind: 'image'; data: string }
  | { kind: 'table'; columns: string[]; rows: unknown[][]; truncated: boolean }
  | { kind: 'binary'; reason?: string }
);

/** What the change feed reports. */
export interface IChanges {
  cursor: string;
  /** The cursor could not be served (first call, restart, too old): reload everything. */
  reset: boolean;
  experiments: IExperiment[];
  runs: IRunSummary[];
  removed_runs: string[];
  metrics: { run_id: string; key: string; value: number; step: number; timestamp: number }[];
}

/** The store's location and counts. */
export interface IStoreInfo {
  store: string;
  version: string;
  counts: Record<string, number>;
  limits: Record<string, number>;
}

// registry -----------------------------------------------------------------------------------

/** A model logged from a run (MLflow 3's LoggedModel). */
export interface ILoggedModel {
  model_id: string;
  experiment_id: string;
  name: string;
  artifact_uri: string;
  status: string;
  source_run_id: string | null;
  creation_timestamp_ms: number;
  model_type: string | null;
}

/** One version of a registered model. */
export interface IModelVersion {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  current_stage: string;
  description: string;
  source: string;
  run_id: string | null;
  model_id: string | null;
  status: string;
  tags: Record<string, string>;
  aliases: string[];
}

/** A named model in the registry. */
export interface IRegisteredModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description: string;
  tags: Record<string, string>;
  /** alias → version */
  aliases: Record<string, string>;
  latest_versions: IModelVersion[];
}

/** One recorded registry change (comments and reviews included). */
export interface IRegistryEvent {
  seq: number;
  time: number;
  user_id: string | null;
  name: string;
  version: string | null;
  kind: string;
  detail: Record<string, unknown>;
}

/** A model version's review state. */
export type ModelApproval = 'NONE' | 'PENDING' | 'APPROVED' | 'REJECTED';

/** A review of a model version: a comment, an approval decision, or both. */
export interface IModelReview {
  comment: string | null;
  approval: ModelApproval | null;
}

/** The registry stages, as in MLflow. */
export const MODEL_STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;

// settings -----------------------------------------------------------------------------------

/** The extension's settings (`schema/plugin.json`). */
export interface IMltrackSettings {
  /** Least time between two change-feed requests, in milliseconds. */
  refreshInterval: number;
  /** Columns a runs table starts with: `metrics.x`, `params.y`, `tags.z`. */
  defaultColumns: string[];
  /** Points per series a metric chart asks the server for. */
  chartPoints: number;
  /** Runs fetched per page of the sidebar's table. */
  pageSize: number;
}

export const DEFAULT_SETTINGS: IMltrackSettings = {
  refreshInterval: 1000,
  defaultColumns: [],
  chartPoints: 1000,
  pageSize: 200
};

// commands -----------------------------------------------------------------------------------

/** Command ids, all in the palette under "ML Tracking". */
export namespace CommandIDs {
  export const showSidebar = 'mltrack:show-sidebar';
  export const refresh = 'mltrack:refresh';
  export const openRun = 'mltrack:open-run';
  export const compareRuns = 'mltrack:compare-runs';
  export const renameRun = 'mltrack:rename-run';
  export const tagRuns = 'mltrack:tag-runs';
  export const deleteRuns = 'mltrack:delete-runs';
  export const restoreRuns = 'mltrack:restore-runs';
  export const jumpToCell = 'mltrack:jump-to-cell';
  export const openRegistry = 'mltrack:open-registry';
  export const showDeleted = 'mltrack:toggle-deleted';
}

/** What a view needs to act on runs elsewhere in the application. */
export interface IRunActions {
  /** Open a run's view in the main area. */
  openRun(runId: string): void;
  /** Open the compare view for these runs. */
  compare(runIds: string[]): void;
  /** Open the notebook that produced a run at one of its cells (the first when none given). */
  jumpToCell(runId: string, cellId?: string | null): Promise<void>;
  /** Open the registry view, optionally at one model (and version). */
  openRegistry(name?: string, version?: string): void;
}

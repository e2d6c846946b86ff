/**
 * Wire values into the interfaces of `tokens.ts`. The shapes come from the server's OpenAPI
 * spec (`jupyter_mltrack/server/openapi.yaml`), turned into TypeScript at build time
 * (`jlpm build:openapi` writes `src/generated/openapi.d.ts`), so every field a decoder reads is
 * checked against the spec by the compiler: a decoder can only call {@link required} with a
 * field the spec requires, and {@link optional} with one it leaves out.
 *
 * At run time a required field that is missing, or of the wrong kind, is an error naming the
 * object and the field ({@link WireError}), never a default: a server and client that disagree
 * should say so where it happens, not show a made-up value. Conversions JSON forces on us are
 * undone here: NaN and ±Infinity arrive as strings and become numbers again, tag lists become
 * records.
 */

import type { components } from './generated/openapi';
import type {
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
  IModelVersion,
  IRegisteredModel,
  IRegistryEvent,
  IRun,
  IRunColumns,
  IRunPage,
  IRunRow,
  IRunSummary,
  IStoreInfo
} from './tokens';

/** The schemas of the spec, by name. */
export type Schemas = components['schemas'];

/** A JSON value as it arrives. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The fields of `T` that the spec requires. */
type RequiredField<T> = {
  [K in keyof T]-?: object extends Pick<T, K> ? never : K;
}[keyof T] &
  string;
/** The fields of `T` that the spec lets a server leave out. */
type OptionalField<T> = Exclude<keyof T & string, RequiredField<T>>;

/** A response that does not have the shape the spec gives it. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

/**
 * A JSON object received as the schema `T` (its fields not yet checked): `kind` names it in
 * error messages. Read it with {@link required} and {@link optional}.
 */
export interface IWire<T> {
  readonly kind: string;
  readonly fields: JsonObject;
  /** Only for the compiler: the schema the object is read as. */
  readonly schema?: T;
}

function describe(value: Json | undefined): string {
  if (value === undefined) {
    return 'nothing';
  }
  const text = JSON.stringify(value);
  return text.length > 60 ? text.slice(0, 57) + '…' : text;
}

/** Read `value` as an object of schema `T`; anything else is a {@link WireError}. */
export function wire<T>(value: Json | undefined, kind: string): IWire<T> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new WireError(`expected ${article(kind)} object, got ${describe(value)}`);
  }
  return { kind, fields: value };
}

/** Read `value` as the named schema of the spec. */
export function schema<K extends keyof Schemas>(
  value: Json | undefined,
  kind: K
): IWire<Schemas[K]> {
  return wire<Schemas[K]>(value, kind);
}

function article(kind: string): string {
  return (/^[aeiou]/i.test(kind) ? 'an ' : 'a ') + kind;
}

function missing(o: IWire<unknown>, field: string): WireError {
  return new WireError(`${article(o.kind)} without its required field "${field}"`);
}

function wrong(o: IWire<unknown>, field: string, expected: string): WireError {
  const got = describe(o.fields[field]);
  return new WireError(`${o.kind}.${field} must be ${expected}, got ${got}`);
}

/** A field the spec requires; missing, it is a {@link WireError} naming the object and field. */
export function required<T>(o: IWire<T>, field: RequiredField<T>): Json {
  const value = o.fields[field];
  if (value === undefined) {
    throw missing(o, field);
  }
  return value;
}

/** A field the spec lets the server leave out (undefined when it did). */
export function optional<T>(o: IWire<T>, field: OptionalField<T>): Json | undefined {
  return o.fields[field];
}

// typed reads of one field -------------------------------------------------------------------

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

/** Whether a wire value is a number: a JSON number or one of the strings NaN travels as. */
function isNumber(value: Json): boolean {
  if (typeof value === 'number') {
    return true;
  }
  return typeof value === 'string' && (value === 'NaN' || !Number.isNaN(toNumber(value)));
}

/** A required string (a number is taken as its text: ids and versions may come either way). */
export function text<T>(o: IWire<T>, field: RequiredField<T>): string {
  const value = required(o, field);
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'number') {
    return String(value);
  }
  throw wrong(o, field, 'a string');
}

/** A required field that may be null. */
export function nullableText<T>(o: IWire<T>, field: RequiredField<T>): string | null {
  return required(o, field) === null ? null : text(o, field);
}

/** A required number (or "NaN", "Infinity", "-Infinity"). */
export function num<T>(o: IWire<T>, field: RequiredField<T>): number {
  const value = required(o, field);
  if (!isNumber(value)) {
    throw wrong(o, field, 'a number');
  }
  return toNumber(value);
}

/** A required number that may be null. */
export function nullableNum<T>(o: IWire<T>, field: RequiredField<T>): number | null {
  return required(o, field) === null ? null : num(o, field);
}

/** A required boolean. */
export function bool<T>(o: IWire<T>, field: RequiredField<T>): boolean {
  const value = required(o, field);
  if (typeof value !== 'boolean') {
    throw wrong(o, field, 'true or false');
  }
  return value;
}

/** A required array. */
export function list<T>(o: IWire<T>, field: RequiredField<T>): Json[] {
  const value = required(o, field);
  if (!Array.isArray(value)) {
    throw wrong(o, field, 'a list');
  }
  return value;
}

/** A required object. */
export function record<T>(o: IWire<T>, field: RequiredField<T>): JsonObject {
  return wire<unknown>(required(o, field), `${o.kind}.${field}`).fields;
}

function strings(values: Json[], what: string): string[] {
  return values.map(v => {
    if (typeof v !== 'string') {
      throw new WireError(`${what} must hold strings, got ${describe(v)}`);
    }
    return v;
  });
}

/** A `{key: "value"}` object (the spec's TagMap). */
function stringMap<T>(o: IWire<T>, field: RequiredField<T>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record(o, field))) {
    if (typeof value !== 'string') {
      throw new WireError(`${o.kind}.${field}.${key} must be a string, got ${describe(value)}`);
    }
    out[key] = value;
  }
  return out;
}

/** A `{key: number}` object (metrics; NaN and ±Infinity as strings). */
function numberMap<T>(o: IWire<T>, field: RequiredField<T>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(record(o, field))) {
    out[key] = toNumber(value);
  }
  return out;
}

// entities -----------------------------------------------------------------------------------

export function toExperiment(value: Json | undefined): IExperiment {
  const o = schema(value, 'Experiment');
  const tags: Record<string, string> = {};
  for (const item of list(o, 'tags')) {
    const tag = wire<Schemas['Experiment']['tags'][number]>(item, 'Experiment tag');
    tags[text(tag, 'key')] = nullableText(tag, 'value') ?? '';
  }
  return {
    experiment_id: text(o, 'experiment_id'),
    name: text(o, 'name'),
    artifact_location: text(o, 'artifact_location'),
    lifecycle_stage: text(o, 'lifecycle_stage'),
    creation_time: num(o, 'creation_time'),
    last_update_time: num(o, 'last_update_time'),
    tags
  };
}

/** The summary fields, from a RunSummary, a RunRow or a RunInfo (which all carry them). */
function summaryOf(o: IWire<Schemas['RunSummary']>): IRunSummary {
  return {
    run_id: text(o, 'run_id'),
    run_name: text(o, 'run_name'),
    experiment_id: text(o, 'experiment_id'),
    user_id: nullableText(o, 'user_id'),
    status: text(o, 'status') as IRunSummary['status'],
    start_time: num(o, 'start_time'),
    end_time: nullableNum(o, 'end_time'),
    lifecycle_stage: text(o, 'lifecycle_stage'),
    parent_run_id: nullableText(o, 'parent_run_id')
  };
}

export function toSummary(value: Json | undefined): IRunSummary {
  return summaryOf(schema(value, 'RunSummary'));
}

export function toRow(value: Json | undefined): IRunRow {
  const o = schema(value, 'RunRow');
  return {
    ...summaryOf(o),
    metrics: numberMap(o, 'metrics'),
    params: stringMap(o, 'params'),
    tags: stringMap(o, 'tags'),
    parent_missing: optional(o, 'parent_missing') === true
  };
}

export function toInput(value: Json | undefined): IDatasetInput {
  const o = schema(value, 'DatasetInput');
  const d = wire<Schemas['DatasetInput']['dataset']>(required(o, 'dataset'), 'Dataset');
  return {
    dataset: {
      name: text(d, 'name'),
      digest: text(d, 'digest'),
      source_type: text(d, 'source_type'),
      source: text(d, 'source'),
      schema: nullableText(d, 'schema'),
      profile: nullableText(d, 'profile')
    },
    context: nullableText(o, 'context'),
    tags: stringMap(o, 'tags')
  };
}

export function toRun(value: Json | undefined): IRun {
  const o = schema(value, 'Run');
  const info = schema(required(o, 'info'), 'RunInfo');
  const data = wire<Schemas['Run']['data']>(required(o, 'data'), 'Run.data');
  return {
    info: { ...summaryOf(info), artifact_uri: text(info, 'artifact_uri') },
    data: {
      metrics: numberMap(data, 'metrics'),
      params: stringMap(data, 'params'),
      tags: stringMap(data, 'tags')
    },
    inputs: list(o, 'inputs').map(toInput),
    outputs: list(o, 'outputs').map(item => {
      const output = wire<Schemas['Run']['outputs'][number]>(item, 'Run output');
      const step = optional(output, 'step');
      return { model_id: text(output, 'model_id'), step: step === undefined ? 0 : toNumber(step) };
    })
  };
}

export function toRunPage(value: Json | undefined): IRunPage {
  const o = schema(value, 'RunTable');
  return {
    runs: list(o, 'runs').map(toRow),
    next_page_token: nullableText(o, 'next_page_token'),
    total: num(o, 'total')
  };
}

export function toRunColumns(value: Json | undefined): IRunColumns {
  const o = schema(value, 'RunColumns');
  return {
    metrics: strings(list(o, 'metrics'), 'RunColumns.metrics'),
    params: strings(list(o, 'params'), 'RunColumns.params'),
    tags: strings(list(o, 'tags'), 'RunColumns.tags')
  };
}

export function toStoreInfo(value: Json | undefined): IStoreInfo {
  const o = schema(value, 'Info');
  return {
    store: text(o, 'store'),
    version: text(o, 'version'),
    counts: numberMap(o, 'counts'),
    limits: numberMap(o, 'limits')
  };
}

export function toCell(value: Json | undefined): ICell {
  const o = schema(value, 'Cell');
  return {
    run_id: text(o, 'run_id'),
    seq: num(o, 'seq'),
    cell_id: nullableText(o, 'cell_id'),
    execution_count: nullableNum(o, 'execution_count'),
    source: nullableText(o, 'source'),
    start_time: num(o, 'start_time'),
    duration_ms: nullableNum(o, 'duration_ms'),
    outcome: text(o, 'outcome'),
    error_type: nullableText(o, 'error_type'),
    error_message: nullableText(o, 'error_message')
  };
}

export function toLoggedItem(value: Json | undefined): ILoggedItem {
  const o = schema(value, 'LoggedItem');
  return {
    kind: text(o, 'kind') as ILoggedItem['kind'],
    key: text(o, 'key'),
    cell_id: nullableText(o, 'cell_id'),
    value: nullableText(o, 'value'),
    first_step: nullableNum(o, 'first_step'),
    last_step: nullableNum(o, 'last_step'),
    points: num(o, 'points')
  };
}

export function toLineage(value: Json | undefined): ILineage {
  const o = schema(value, 'Lineage');
  return {
    run: toSummary(required(o, 'run')),
    ancestors: list(o, 'ancestors').map(toSummary),
    children: list(o, 'children').map(toSummary),
    inputs: list(o, 'inputs').map(toInput)
  };
}

export function toSeries(value: Json | undefined): IMetricSeries {
  const o = schema(value, 'MetricSeries');
  return {
    run_id: text(o, 'run_id'),
    key: text(o, 'key'),
    total_points: num(o, 'total_points'),
    downsampled: bool(o, 'downsampled'),
    x: list(o, 'x').map(toNumber),
    value: list(o, 'value').map(toNumber),
    step: list(o, 'step').map(toNumber),
    timestamp: list(o, 'timestamp').map(toNumber)
  };
}

export function toEntry(value: Json | undefined): IArtifactEntry {
  const o = schema(value, 'ArtifactInfo');
  return {
    path: text(o, 'path'),
    is_dir: bool(o, 'is_dir'),
    file_size: nullableNum(o, 'file_size'),
    media_type: nullableText(o, 'media_type'),
    cell_id: nullableText(o, 'cell_id')
  };
}

export function toPreview(value: Json | undefined): IArtifactPreview {
  const o = schema(value, 'Preview');
  const kind = text(o, 'kind');
  const base = { path: text(o, 'path'), size: num(o, 'size'), media_type: text(o, 'media_type') };
  // the spec leaves these out for other kinds; for their own kind they are needed
  const needed = (field: OptionalField<Schemas['Preview']>): Json => {
    const found = optional(o, field);
    if (found === undefined) {
      throw new WireError(`a Preview of kind ${kind} without its field "${field}"`);
    }
    return found;
  };
  const truncated = optional(o, 'truncated') === true;
  switch (kind) {
    case 'text':
    case 'html':
      return { ...base, kind, text: String(needed('text')), truncated };
    case 'json':
      return { ...base, kind: 'json', data: needed('data') };
    case 'image':
      return { ...base, kind: 'image', data: String(needed('data')) };
    case 'table': {
      const columns = needed('columns');
      const rows = needed('rows');
      if (!Array.isArray(columns) || !Array.isArray(rows)) {
        throw new WireError('a table Preview needs lists of columns and rows');
      }
      return {
        ...base,
        kind: 'table',
        columns: columns.map(c => String(c)),
        rows: rows.map(r => (Array.isArray(r) ? r : [r])),
        truncated
      };
    }
    case 'binary': {
      const reason = optional(o, 'reason');
      return { ...base, kind: 'binary', reason: typeof reason === 'string' ? reason : undefined };
    }
    default:
      throw new WireError(`a Preview of an unknown kind: ${describe(kind)}`);
  }
}

export function toChanges(value: Json | undefined): IChanges {
  const o = schema(value, 'Changes');
  return {
    cursor: text(o, 'cursor'),
    reset: bool(o, 'reset'),
    experiments: list(o, 'experiments').map(toExperiment),
    runs: list(o, 'runs').map(toSummary),
    removed_runs: strings(list(o, 'removed_runs'), 'Changes.removed_runs'),
    metrics: list(o, 'metrics').map(item => {
      const m = wire<Schemas['Changes']['metrics'][number]>(item, 'Changes metric');
      return {
        run_id: text(m, 'run_id'),
        key: text(m, 'key'),
        value: num(m, 'value'),
        step: num(m, 'step'),
        timestamp: num(m, 'timestamp')
      };
    })
  };
}

// logged models and the registry -------------------------------------------------------------

export function toLoggedModel(value: Json | undefined): ILoggedModel {
  const o = schema(value, 'LoggedModel');
  return {
    model_id: text(o, 'model_id'),
    experiment_id: text(o, 'experiment_id'),
    name: text(o, 'name'),
    artifact_uri: text(o, 'artifact_uri'),
    status: text(o, 'status'),
    source_run_id: nullableText(o, 'source_run_id'),
    creation_timestamp_ms: num(o, 'creation_timestamp_ms'),
    model_type: nullableText(o, 'model_type')
  };
}

export function toVersion(value: Json | undefined): IModelVersion {
  const o = schema(value, 'ModelVersion');
  return {
    name: text(o, 'name'),
    version: text(o, 'version'),
    creation_timestamp: num(o, 'creation_timestamp'),
    last_updated_timestamp: num(o, 'last_updated_timestamp'),
    current_stage: text(o, 'current_stage'),
    description: nullableText(o, 'description') ?? '',
    source: text(o, 'source'),
    run_id: nullableText(o, 'run_id') || null,
    model_id: nullableText(o, 'model_id') || null,
    status: text(o, 'status'),
    tags: stringMap(o, 'tags'),
    aliases: strings(list(o, 'aliases'), 'ModelVersion.aliases')
  };
}

export function toRegisteredModel(value: Json | undefined): IRegisteredModel {
  const o = schema(value, 'RegisteredModel');
  const aliases: Record<string, string> = {};
  for (const [alias, version] of Object.entries(record(o, 'aliases'))) {
    // versions are strings in the spec; a number is the same version
    if (typeof version !== 'string' && typeof version !== 'number') {
      throw new WireError(`RegisteredModel.aliases.${alias} must be a version, got ${version}`);
    }
    aliases[alias] = String(version);
  }
  return {
    name: text(o, 'name'),
    creation_timestamp: num(o, 'creation_timestamp'),
    last_updated_timestamp: num(o, 'last_updated_timestamp'),
    description: nullableText(o, 'description') ?? '',
    tags: stringMap(o, 'tags'),
    aliases,
    latest_versions: list(o, 'latest_versions').map(toVersion)
  };
}

export function toRegistryEvent(value: Json | undefined): IRegistryEvent {
  const o = schema(value, 'RegistryEvent');
  return {
    seq: num(o, 'seq'),
    time: num(o, 'time'),
    user_id: nullableText(o, 'user_id'),
    name: text(o, 'name'),
    version: nullableText(o, 'version'),
    kind: text(o, 'kind'),
    detail: record(o, 'detail')
  };
}

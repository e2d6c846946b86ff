/**
 * Wire objects as the server sends them (shaped as `openapi.yaml` says), for the unit tests.
 */

export const summaryWire = {
  run_id: 'r1',
  run_name: 'first',
  experiment_id: '1',
  user_id: null,
  status: 'FINISHED',
  start_time: 1000,
  end_time: 2000,
  lifecycle_stage: 'active',
  parent_run_id: null
};

export const runWire = {
  info: { ...summaryWire, run_uuid: 'r1', artifact_uri: 'file:///a/r1' },
  data: {
    metrics: { loss: 0.5, bad: 'NaN', big: 'Infinity', small: '-Infinity' },
    params: { lr: '0.1' },
    tags: { 'mlflow.runName': 'first' }
  },
  inputs: [
    {
      dataset: {
        name: 'digits',
        digest: 'abc',
        source_type: 'code',
        source: '',
        schema: null,
        profile: null
      },
      context: 'training',
      tags: {}
    }
  ],
  outputs: [{ model_id: 'm-1', step: 3 }]
};

export const versionWire = {
  name: 'clf',
  version: '2',
  creation_timestamp: 10,
  last_updated_timestamp: 20,
  current_stage: 'Staging',
  source: 'models:/m-1',
  status: 'READY',
  description: null,
  user_id: 'ada',
  run_id: 'r1',
  run_link: null,
  model_id: 'm-1',
  approval: 'NONE',
  tags: { team: 'vision' },
  aliases: ['champion']
};

export const registeredModelWire = {
  name: 'clf',
  creation_timestamp: 10,
  last_updated_timestamp: 20,
  description: 'a classifier',
  tags: {},
  aliases: { champion: '2' },
  latest_versions: [versionWire]
};

export const loggedModelWire = {
  model_id: 'm-1',
  experiment_id: '1',
  name: 'model',
  artifact_uri: 'file:///a/m-1',
  status: 'LOGGED_MODEL_READY',
  source_run_id: 'r1',
  creation_timestamp_ms: 5,
  last_updated_timestamp_ms: 6,
  model_type: null,
  artifact_path: 'models/m-1',
  tags: {},
  params: {}
};

/** A copy of `value` without `field`. */
export function without<T extends object>(value: T, field: keyof T): Partial<T> {
  const copy: Partial<T> = { ...value };
  delete copy[field];
  return copy;
}

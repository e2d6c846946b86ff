/**
 * The decoders: wire values into the views' interfaces, loudly failing on a missing field.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  Json,
  WireError,
  toChanges,
  toExperiment,
  toPreview,
  toRegisteredModel,
  toRun,
  toRunPage,
  toSeries,
  toSummary,
  toVersion,
  toNumber
} from '../src/decode';
import { registeredModelWire, runWire, summaryWire, versionWire, without } from './fixtures';

const json = (value: unknown): Json => value as Json;

describe('toNumber', () => {
  it('reads numbers and the strings JSON carries NaN and infinities as', () => {
    assert.equal(toNumber(1.5), 1.5);
    assert.ok(Number.isNaN(toNumber('NaN')));
    assert.equal(toNumber('Infinity'), Infinity);
    assert.equal(toNumber('-Infinity'), -Infinity);
    assert.equal(toNumber('2'), 2);
  });

  it('takes nothing for NaN', () => {
    assert.ok(Number.isNaN(toNumber(null)));
    assert.ok(Number.isNaN(toNumber(undefined)));
    assert.ok(Number.isNaN(toNumber('  ')));
  });
});

describe('toRun', () => {
  it('decodes a run with its metrics as numbers', () => {
    const run = toRun(json(runWire));
    assert.equal(run.info.run_id, 'r1');
    assert.equal(run.info.end_time, 2000);
    assert.equal(run.info.user_id, null);
    assert.equal(run.info.artifact_uri, 'file:///a/r1');
    assert.equal(run.data.metrics.loss, 0.5);
    assert.ok(Number.isNaN(run.data.metrics.bad));
    assert.equal(run.data.metrics.big, Infinity);
    assert.equal(run.data.metrics.small, -Infinity);
    assert.deepEqual(run.data.params, { lr: '0.1' });
    assert.equal(run.inputs[0].dataset.name, 'digits');
    assert.equal(run.inputs[0].context, 'training');
    assert.deepEqual(run.outputs, [{ model_id: 'm-1', step: 3 }]);
  });

  it('names the object and the field that is missing', () => {
    const info = without(runWire.info, 'status');
    assert.throws(
      () => toRun(json({ ...runWire, info })),
      (error: Error) =>
        error instanceof WireError &&
        error.message === 'a RunInfo without its required field "status"'
    );
    assert.throws(() => toRun(json(without(runWire, 'outputs'))), /a Run without .*"outputs"/);
  });

  it('refuses a required field of the wrong kind', () => {
    const data = { ...runWire.data, params: { lr: 0.1 } };
    assert.throws(() => toRun(json({ ...runWire, data })), /Run.data.params.lr must be a string/);
    assert.throws(() => toRun(json({ ...runWire, inputs: 'none' })), /Run.inputs must be a list/);
    assert.throws(() => toRun(json(null)), /expected a Run object, got null/);
  });

  it('reads a missing optional field as the spec says (an output step defaults to 0)', () => {
    const run = toRun(json({ ...runWire, outputs: [{ model_id: 'm-2' }] }));
    assert.deepEqual(run.outputs, [{ model_id: 'm-2', step: 0 }]);
  });
});

describe('toSummary and toRunPage', () => {
  it('keeps null end times and parents', () => {
    const summary = toSummary(json({ ...summaryWire, end_time: null, parent_run_id: 'p' }));
    assert.equal(summary.end_time, null);
    assert.equal(summary.parent_run_id, 'p');
  });

  it('never invents a status or a lifecycle stage', () => {
    assert.throws(() => toSummary(json(without(summaryWire, 'status'))), /"status"/);
    assert.throws(() => toSummary(json(without(summaryWire, 'lifecycle_stage'))), /lifecycle/);
  });

  it('decodes a page of rows', () => {
    const page = toRunPage(
      json({
        runs: [{ ...summaryWire, metrics: { acc: '0.9' }, params: {}, tags: {} }],
        next_page_token: null,
        total: 1
      })
    );
    assert.equal(page.total, 1);
    assert.equal(page.next_page_token, null);
    assert.equal(page.runs[0].metrics.acc, 0.9);
    assert.throws(() => toRunPage(json({ runs: [], next_page_token: null })), /"total"/);
  });
});

describe('toExperiment', () => {
  it('turns the tag list into a record', () => {
    const experiment = toExperiment(
      json({
        experiment_id: '1',
        name: 'exp',
        artifact_location: 'file:///a',
        lifecycle_stage: 'active',
        creation_time: 1,
        last_update_time: 2,
        tags: [
          { key: 'a', value: 'x' },
          { key: 'b', value: null }
        ]
      })
    );
    assert.deepEqual(experiment.tags, { a: 'x', b: '' });
  });
});

describe('registry decoders', () => {
  it('decodes a version of the native API', () => {
    const version = toVersion(json(versionWire));
    assert.equal(version.version, '2');
    assert.equal(version.description, '');
    assert.deepEqual(version.aliases, ['champion']);
    assert.deepEqual(version.tags, { team: 'vision' });
    assert.equal(version.model_id, 'm-1');
  });

  it('reads the native alias record of a registered model', () => {
    const model = toRegisteredModel(json(registeredModelWire));
    assert.deepEqual(model.aliases, { champion: '2' });
    assert.equal(model.latest_versions[0].name, 'clf');
  });

  it('refuses MLflow-shaped answers instead of guessing', () => {
    const mlflowShaped = { ...registeredModelWire, aliases: [{ alias: 'champion', version: '2' }] };
    // a list where the spec has an object of alias -> version
    assert.throws(() => toRegisteredModel(json(mlflowShaped)), /alias/);
    assert.throws(
      () => toVersion(json(without(versionWire, 'current_stage'))),
      /a ModelVersion without its required field "current_stage"/
    );
  });
});

describe('toPreview', () => {
  const base = { path: 'a.txt', size: 3, media_type: 'text/plain' };

  it('decodes each kind', () => {
    assert.deepEqual(toPreview(json({ ...base, kind: 'text', text: 'abc', truncated: true })), {
      ...base,
      kind: 'text',
      text: 'abc',
      truncated: true
    });
    const table = toPreview(json({ ...base, kind: 'table', columns: ['a'], rows: [[1]] }));
    assert.equal(table.kind, 'table');
    assert.deepEqual(toPreview(json({ ...base, kind: 'binary' })), {
      ...base,
      kind: 'binary',
      reason: undefined
    });
  });

  it('needs the field of its own kind', () => {
    assert.throws(() => toPreview(json({ ...base, kind: 'text' })), /kind text .*"text"/);
    assert.throws(() => toPreview(json({ ...base, kind: 'video' })), /unknown kind/);
  });
});

describe('toSeries and toChanges', () => {
  it('decodes a downsampled series', () => {
    const series = toSeries(
      json({
        run_id: 'r1',
        key: 'loss',
        total_points: 10,
        downsampled: true,
        x: [0, 1],
        value: [1, 'NaN'],
        step: [0, 1],
        timestamp: [5, 6]
      })
    );
    assert.equal(series.downsampled, true);
    assert.ok(Number.isNaN(series.value[1]));
  });

  it('decodes what changed', () => {
    const changes = toChanges(
      json({
        cursor: 'c2',
        reset: false,
        experiments: [],
        runs: [summaryWire],
        removed_runs: ['r0'],
        metrics: [{ run_id: 'r1', key: 'loss', value: '-Infinity', step: 1, timestamp: 9 }]
      })
    );
    assert.equal(changes.runs[0].run_id, 'r1');
    assert.deepEqual(changes.removed_runs, ['r0']);
    assert.equal(changes.metrics[0].value, -Infinity);
    assert.throws(
      () => toChanges(json({ cursor: 'c', experiments: [], runs: [], removed_runs: [] })),
      /a Changes without its required field "reset"/
    );
  });
});

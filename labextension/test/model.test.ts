/**
 * The runs model's helpers: column ids and parsing, the order-by term of a sort, the tree
 * order of the rows, and the selection a click, ctrl-click or shift-click makes.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Signal } from '@lumino/signaling';

import { MltrackApi } from '../src/api';
import { ChangeFeed } from '../src/feed';
import { RunsModel, columnId, orderTerm, parseColumn } from '../src/model';
import { DEFAULT_SETTINGS, IChanges, IRunQuery, IRunRow } from '../src/tokens';

describe('columns', () => {
  it('parse singular and plural kinds, keeping dots in the key', () => {
    assert.deepEqual(parseColumn('metrics.loss'), { kind: 'metrics', key: 'loss' });
    assert.deepEqual(parseColumn(' metric.val.loss '), { kind: 'metrics', key: 'val.loss' });
    assert.deepEqual(parseColumn('param.lr'), { kind: 'params', key: 'lr' });
    assert.deepEqual(parseColumn('tags.stage'), { kind: 'tags', key: 'stage' });
  });

  it('are not parsed from other text', () => {
    assert.equal(parseColumn('loss'), null);
    assert.equal(parseColumn('metrics.'), null);
    assert.equal(parseColumn('attributes.status'), null);
  });

  it('have ids that parse back to them', () => {
    const column = { kind: 'params' as const, key: 'model.depth' };
    assert.equal(columnId(column), 'params.model.depth');
    assert.deepEqual(parseColumn(columnId(column)), column);
  });
});

describe('orderTerm', () => {
  it('sorts fixed columns by their attribute', () => {
    assert.equal(orderTerm({ column: 'name', ascending: true }), 'attributes.run_name ASC');
    assert.equal(orderTerm({ column: 'start', ascending: false }), 'attributes.start_time DESC');
    assert.equal(orderTerm({ column: 'status', ascending: true }), 'attributes.status ASC');
  });

  it('quotes data keys that are not plain names', () => {
    assert.equal(orderTerm({ column: 'metrics.acc', ascending: false }), 'metrics.acc DESC');
    assert.equal(
      orderTerm({ column: 'params.val loss', ascending: true }),
      'params.`val loss` ASC'
    );
  });

  it('has no term for a column the server cannot sort by', () => {
    assert.equal(orderTerm({ column: 'duration', ascending: true }), null);
  });
});

function row(runId: string, parent: string | null = null): IRunRow {
  return {
    run_id: runId,
    run_name: runId,
    experiment_id: '1',
    user_id: null,
    status: 'FINISHED',
    start_time: 0,
    end_time: 1,
    lifecycle_stage: 'active',
    parent_run_id: parent,
    metrics: {},
    params: {},
    tags: {}
  };
}

/** A model whose server holds `rows` (in the server's order) in experiment 1. */
async function modelWith(rows: IRunRow[]): Promise<[RunsModel, IRunQuery[]]> {
  const queries: IRunQuery[] = [];
  const api = {
    runColumns: async () => ({ metrics: ['acc'], params: [], tags: [] }),
    runs: async (query: IRunQuery) => {
      queries.push(query);
      return { runs: rows.map(r => ({ ...r })), next_page_token: null, total: rows.length };
    }
  };
  const feed = {
    changed: new Signal<unknown, IChanges>({}),
    reset: new Signal<unknown, void>({}),
    interval: 1000
  };
  const model = new RunsModel(
    api as unknown as MltrackApi,
    feed as unknown as ChangeFeed,
    DEFAULT_SETTINGS
  );
  await model.selectExperiment('1', false);
  return [model, queries];
}

const order = (model: RunsModel) =>
  model.display.map(d => `${'  '.repeat(d.depth)}${d.run.run_id}`);

describe('the tree order', () => {
  it("puts children under their parent, in the server's order", async () => {
    // the server's order: newest first, a child before its parent
    const [model] = await modelWith([
      row('c2', 'p'),
      row('r'),
      row('p'),
      row('c1', 'p'),
      row('g', 'c1')
    ]);
    assert.deepEqual(order(model), ['r', 'p', '  c2', '  c1', '    g']);
    assert.equal(model.display.find(d => d.run.run_id === 'p')?.hasChildren, true);
  });

  it('hides the children of a collapsed parent', async () => {
    const [model] = await modelWith([row('p'), row('c', 'p'), row('r')]);
    model.toggleCollapsed('p');
    assert.deepEqual(order(model), ['p', 'r']);
    assert.equal(model.display[0].collapsed, true);
  });

  it('shows runs whose parent is not loaded at the top level, and survives cycles', async () => {
    const [model] = await modelWith([row('orphan', 'gone'), row('x', 'y'), row('y', 'x')]);
    assert.deepEqual(order(model).sort(), ['orphan', 'x', '  y'].sort());
    assert.equal(model.display.length, 3);
  });

  it('is flat with the tree off', async () => {
    const [model] = await modelWith([row('c', 'p'), row('p')]);
    model.tree = false;
    assert.deepEqual(order(model), ['c', 'p']);
  });
});

describe('the selection', () => {
  const rows = [row('a'), row('b'), row('b1', 'b'), row('c'), row('d')];

  it('a click selects one run, ctrl-click adds and removes', async () => {
    const [model] = await modelWith(rows);
    model.select('b', 'single');
    model.select('d', 'toggle');
    assert.deepEqual(model.selected, ['b', 'd']);
    model.select('b', 'toggle');
    assert.deepEqual(model.selected, ['d']);
  });

  it('shift-click selects the range in display order, either way', async () => {
    const [model] = await modelWith(rows);
    model.select('a', 'single');
    model.select('c', 'range');
    assert.deepEqual(model.selected, ['a', 'b', 'b1', 'c']);
    model.select('d', 'single');
    model.select('b1', 'range');
    assert.deepEqual(model.selected, ['b1', 'c', 'd']);
  });

  it('shift-click without an anchor in view selects the one run', async () => {
    const [model] = await modelWith(rows);
    model.select('b1', 'single');
    model.toggleCollapsed('b'); // the anchor is hidden now
    model.select('d', 'range');
    assert.deepEqual(model.selected, ['d']);
  });

  it('select all takes every loaded run', async () => {
    const [model] = await modelWith(rows);
    model.selectAll(true);
    assert.equal(model.selected.length, rows.length);
    model.selectAll(false);
    assert.deepEqual(model.selected, []);
  });
});

describe('the runs query', () => {
  it('asks for the chosen columns, sorted as chosen', async () => {
    const [model, queries] = await modelWith([row('a')]);
    await model.setColumns([
      { kind: 'metrics', key: 'acc' },
      { kind: 'params', key: 'lr' }
    ]);
    await model.toggleSort('metrics.acc');
    await model.toggleSort('metrics.acc');
    const last = queries[queries.length - 1];
    assert.deepEqual(last.experimentIds, ['1']);
    assert.deepEqual(last.metrics, ['acc']);
    assert.deepEqual(last.params, ['lr']);
    assert.deepEqual(last.orderBy, ['metrics.acc DESC']);
    await model.toggleSort('metrics.acc'); // third click: back to the server's order
    assert.equal(queries[queries.length - 1].orderBy, undefined);
  });
});

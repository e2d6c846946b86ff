/**
 * The client: which native route each call takes, what it sends, how answers and errors come
 * back. Requests go to a fake `fetch` in the server settings, as JupyterLab's own tests do.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ServerConnection } from '@jupyterlab/services';

import { MltrackApi, MltrackApiError, messageOf, quoteKey, quoteValue } from '../src/api';
import { loggedModelWire, registeredModelWire, runWire, versionWire } from './fixtures';

const BASE = 'http://lab.test/base/';

interface ISent {
  method: string;
  /** The path after the base URL, with its query. */
  url: string;
  body: unknown;
}

/** A client whose server answers with `answer(request)`, and the requests it sent. */
function fakeServer(answer: (sent: ISent) => [number, unknown]): [MltrackApi, ISent[]] {
  const sent: ISent[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const text = await request.text();
    const entry = {
      method: request.method,
      // without the cache buster ServerConnection adds (`?1712345678901`)
      url: request.url.slice(BASE.length).replace(/[?&]\d{10,}$/, ''),
      body: text ? JSON.parse(text) : undefined
    };
    sent.push(entry);
    const [status, body] = answer(entry);
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' }
    });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: BASE,
    wsUrl: 'ws://lab.test/base/',
    fetch,
    Request,
    Headers
  });
  return [new MltrackApi(settings), sent];
}

describe('the registry over the native API', () => {
  it('lists registered models with a name filter', async () => {
    const [api, sent] = fakeServer(() => [
      200,
      { registered_models: [registeredModelWire], next_page_token: null }
    ]);
    const models = await api.registeredModels('cl');
    assert.equal(models[0].aliases.champion, '2');
    assert.equal(sent.length, 1);
    assert.equal(sent[0].method, 'GET');
    const url = new URL(sent[0].url, BASE);
    assert.equal(url.pathname, '/base/mltrack/api/registered-models');
    assert.equal(url.searchParams.get('filter'), "name ILIKE '%cl%'");
  });

  it('follows page tokens', async () => {
    const [api, sent] = fakeServer(s =>
      s.url.includes('page_token=p2')
        ? [200, { model_versions: [versionWire], next_page_token: null }]
        : [200, { model_versions: [{ ...versionWire, version: '1' }], next_page_token: 'p2' }]
    );
    const versions = await api.modelVersions('clf');
    assert.deepEqual(
      versions.map(v => v.version),
      ['2', '1']
    );
    assert.equal(sent.length, 2);
    assert.ok(sent.every(s => s.url.startsWith('mltrack/api/model-versions?')));
  });

  it('puts a model name in one path segment, dots and slashes encoded', async () => {
    const [api, sent] = fakeServer(() => [200, { registered_model: registeredModelWire }]);
    await api.registeredModel('team/a.b');
    assert.equal(sent[0].url, 'mltrack/api/registered-models/team%2Fa%2Eb');
  });

  it('takes the native route of every registry write', async () => {
    const [api, sent] = fakeServer(s => {
      if (s.url === 'mltrack/api/registered-models') {
        return [400, { error_code: 'RESOURCE_ALREADY_EXISTS', message: 'exists' }];
      }
      if (s.url.endsWith('/aliases/champion')) {
        return [200, s.method === 'PUT' ? { model_version: versionWire } : {}];
      }
      if (s.url.endsWith('/registered-models/clf')) {
        return [200, { registered_model: registeredModelWire }];
      }
      return [s.method === 'POST' ? 201 : 200, { model_version: versionWire }];
    });
    const version = await api.registerModel('clf', 'models:/m-1', 'r1', 'm-1');
    assert.equal(version.version, '2');
    await api.setAlias('clf', 'champion', '2');
    await api.deleteAlias('clf', 'champion');
    await api.transitionStage('clf', '2', 'Production', true);
    await api.updateVersionDescription('clf', '2', 'better');
    await api.updateModelDescription('clf', 'a model');
    await api.reviewModelVersion('clf', '2', { comment: 'ok', approval: 'APPROVED' });
    assert.deepEqual(
      sent.map(s => [s.method, s.url, s.body]),
      [
        ['POST', 'mltrack/api/registered-models', { name: 'clf' }],
        [
          'POST',
          'mltrack/api/registered-models/clf/versions',
          { source: 'models:/m-1', run_id: 'r1', model_id: 'm-1' }
        ],
        ['PUT', 'mltrack/api/registered-models/clf/aliases/champion', { version: '2' }],
        ['DELETE', 'mltrack/api/registered-models/clf/aliases/champion', undefined],
        [
          'PATCH',
          'mltrack/api/registered-models/clf/versions/2/stage',
          { stage: 'Production', archive_existing_versions: true }
        ],
        ['PATCH', 'mltrack/api/registered-models/clf/versions/2', { description: 'better' }],
        ['PATCH', 'mltrack/api/registered-models/clf', { description: 'a model' }],
        [
          'POST',
          'mltrack/api/registered-models/clf/versions/2/reviews',
          { comment: 'ok', approval: 'APPROVED' }
        ]
      ]
    );
    assert.ok(sent.every(s => !s.url.includes('2.0/mlflow')));
  });

  it('reads a logged model from its native envelope', async () => {
    const [api, sent] = fakeServer(() => [200, { logged_model: loggedModelWire }]);
    const model = await api.loggedModel('m-1');
    assert.equal(model.name, 'model');
    assert.equal(model.source_run_id, 'r1');
    assert.equal(sent[0].url, 'mltrack/api/logged-models/m-1');
  });

  it('reads an empty history as no events, a missing route as none kept', async () => {
    const [api] = fakeServer(() => [
      404,
      { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no events' }
    ]);
    assert.deepEqual(await api.registryHistory('clf', { version: '2' }), []);
    const [older] = fakeServer(() => [404, { message: 'Not Found' }]);
    assert.equal(await older.registryHistory('clf'), null);
  });
});

describe('errors', () => {
  it("carry the server's code, message and status", async () => {
    const [api] = fakeServer(() => [
      400,
      { error_code: 'INVALID_PARAMETER_VALUE', message: 'bad alias' }
    ]);
    await assert.rejects(
      api.setAlias('clf', 'not an alias!', '1'),
      (error: unknown) =>
        error instanceof MltrackApiError &&
        error.code === 'INVALID_PARAMETER_VALUE' &&
        error.status === 400 &&
        error.message === 'bad alias'
    );
  });

  it('name the route and the field of an answer without the shape of the spec', async () => {
    const [api] = fakeServer(() => [200, { run: { ...runWire, info: { run_id: 'r1' } } }]);
    await assert.rejects(api.run('r1'), (error: unknown) => {
      assert.ok(error instanceof MltrackApiError);
      assert.equal(error.code, 'BAD_RESPONSE');
      assert.match(error.message, /GET \/api\/runs\/\{run_id\}: a RunInfo without .*"run_name"/);
      return true;
    });
  });

  it('read as text whatever was thrown', () => {
    assert.equal(messageOf(new Error('boom')), 'boom');
    assert.equal(messageOf('plain'), 'plain');
  });
});

describe('runs', () => {
  it('sends the table query with repeated arguments', async () => {
    const [api, sent] = fakeServer(() => [200, { runs: [], next_page_token: null, total: 0 }]);
    await api.runs({
      experimentIds: ['1', '2'],
      filter: '  ',
      orderBy: ['metrics.acc DESC'],
      metrics: ['acc', 'loss'],
      params: []
    });
    const url = new URL(sent[0].url, BASE);
    assert.equal(url.pathname, '/base/mltrack/api/runs');
    assert.deepEqual(url.searchParams.getAll('experiment_id'), ['1', '2']);
    assert.deepEqual(url.searchParams.getAll('metric'), ['acc', 'loss']);
    assert.equal(url.searchParams.get('order_by'), 'metrics.acc DESC');
    assert.equal(url.searchParams.has('filter'), false);
    assert.equal(url.searchParams.has('param'), false);
  });
});

describe('the filter grammar', () => {
  it('quotes keys that are not plain names', () => {
    assert.equal(quoteKey('loss'), 'loss');
    assert.equal(quoteKey('val.loss'), '`val.loss`');
    assert.equal(quoteKey('a`b c'), '`ab c`');
  });

  it('quotes string literals', () => {
    assert.equal(quoteValue("it's"), "'it\\'s'");
    assert.equal(quoteValue('a\\b'), "'a\\\\b'");
  });
});

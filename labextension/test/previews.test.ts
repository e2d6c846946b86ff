/** Which artifacts are rendered as notebooks (fetched whole) and which get the server's preview. */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { NOTEBOOK_RENDER_MAX_BYTES, rendersAsNotebook } from '../src/previews';

describe('rendersAsNotebook', () => {
  it('renders a notebook of ordinary size', () => {
    assert.equal(rendersAsNotebook('run/analysis.ipynb', 40_000), true);
    assert.equal(rendersAsNotebook('RUN/A.IPYNB', NOTEBOOK_RENDER_MAX_BYTES), true);
  });

  it('leaves a huge notebook, or one of unknown size, to the bounded preview', () => {
    assert.equal(rendersAsNotebook('big.ipynb', NOTEBOOK_RENDER_MAX_BYTES + 1), false);
    assert.equal(rendersAsNotebook('big.ipynb', null), false);
    assert.equal(rendersAsNotebook('big.ipynb', undefined), false);
  });

  it('never renders other files as notebooks', () => {
    assert.equal(rendersAsNotebook('notes.json', 10), false);
    assert.equal(rendersAsNotebook('ipynb', 10), false);
  });
});

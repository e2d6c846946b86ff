/**
 * The change feed, shared by every view: one long-polling request at a time asks the server
 * what was written since the last answer, and each answer is handed to the views through
 * {@link ChangeFeed.changed}. A view that is live (the sidebar, an open run) only listens.
 */

import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { MltrackApi } from './api';
import { IChanges } from './tokens';

/** How long the server may hold one request open, in seconds. */
const WAIT_S = 25;
/** The longest pause after failures (the server is down or restarting), in milliseconds. */
const MAX_BACKOFF_MS = 30_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Follows the server's change feed while it has listeners. */
export class ChangeFeed implements IDisposable {
  /**
   * @param api The server.
   * @param interval Least time between two requests, in milliseconds: an answer that arrives
   *   sooner waits, so a kernel logging thousands of points a second costs the views a few
   *   updates a second, not thousands.
   */
  constructor(
    private readonly api: MltrackApi,
    public interval = 1000
  ) {}

  /** What changed; emitted after every answer that reports something. */
  get changed(): ISignal<this, IChanges> {
    return this._changed;
  }

  /** The feed lost its place (the server restarted): views must reload what they show. */
  get reset(): ISignal<this, void> {
    return this._reset;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Start following the feed (again); idempotent. */
  start(): void {
    if (this._running || this._disposed) {
      return;
    }
    this._running = true;
    this._abort = new AbortController();
    void this.loop(this._abort.signal);
  }

  /** Stop following the feed. */
  stop(): void {
    this._running = false;
    this._abort?.abort();
    this._abort = null;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this.stop();
    this._disposed = true;
    Signal.clearData(this);
  }

  private async loop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        const changes = await this.api.changes(this._cursor, WAIT_S, signal);
        failures = 0;
        const hadCursor = this._cursor !== null;
        this._cursor = changes.cursor;
        if (changes.reset) {
          if (hadCursor) {
            this._reset.emit();
          }
        } else if (
          changes.runs.length ||
          changes.metrics.length ||
          changes.removed_runs.length ||
          changes.experiments.length
        ) {
          this._changed.emit(changes);
        }
      } catch (error) {
        if (signal.aborted) {
          return;
        }
        failures += 1;
        // a cursor the server refuses is useless: start over
        this._cursor = null;
        await sleep(Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures, 5)), signal);
      }
      const elapsed = Date.now() - started;
      if (elapsed < this.interval) {
        await sleep(this.interval - elapsed, signal);
      }
    }
  }

  private _cursor: string | null = null;
  private _running = false;
  private _disposed = false;
  private _abort: AbortController | null = null;
  private _changed = new Signal<this, IChanges>(this);
  private _reset = new Signal<this, void>(this);
}

/**
 * The state behind the sidebar: which experiments are chosen, the runs table (filter, sort,
 * columns, loaded pages, selection, tree), kept current by the change feed. The React view
 * renders it and calls its methods; commands act on its selection.
 */

import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { MltrackApi, MltrackApiError, messageOf, quoteKey } from './api';
import { ChangeFeed } from './feed';
import { IChanges, IExperiment, IMltrackSettings, IRunColumns, IRunRow, ViewType } from './tokens';

/** The kinds of data column a runs table can show. */
export type ColumnKind = 'metrics' | 'params' | 'tags';

/** A chosen data column. */
export interface IColumn {
  kind: ColumnKind;
  key: string;
}

/** What the table is sorted by: a fixed column or `metrics.k`/`params.k`/`tags.k`. */
export interface ISort {
  column: string;
  ascending: boolean;
}

/** One row as displayed: the run and where it sits in the tree. */
export interface IDisplayRow {
  run: IRunRow;
  depth: number;
  hasChildren: boolean;
  collapsed: boolean;
}

/** How a click changes the selection. */
export type SelectMode = 'single' | 'toggle' | 'range';

/** The id of a data column: `metrics.loss`. */
export function columnId(column: IColumn): string {
  return `${column.kind}.${column.key}`;
}

/** Parse `metrics.loss` (also `metric.`, `param.`, `tag.`) into a column; null if not one. */
export function parseColumn(text: string): IColumn | null {
  const match = /^(metrics?|params?|tags?)\.(.+)$/.exec(text.trim());
  if (!match) {
    return null;
  }
  const kind = (match[1].endsWith('s') ? match[1] : match[1] + 's') as ColumnKind;
  return { kind, key: match[2] };
}

const FIXED_ORDER: Record<string, string> = {
  name: 'attributes.run_name',
  status: 'attributes.status',
  start: 'attributes.start_time'
};

/** The order-by term of a sortable column, or null when the server cannot sort by it. */
export function orderTerm(sort: ISort): string | null {
  const fixed = FIXED_ORDER[sort.column];
  const direction = sort.ascending ? 'ASC' : 'DESC';
  if (fixed) {
    return `${fixed} ${direction}`;
  }
  const column = parseColumn(sort.column);
  if (!column) {
    return null;
  }
  return `${column.kind}.${quoteKey(column.key)} ${direction}`;
}

/** The state of the runs sidebar. */
export class RunsModel implements IDisposable {
  constructor(
    readonly api: MltrackApi,
    readonly feed: ChangeFeed,
    settings: IMltrackSettings
  ) {
    this._settings = settings;
    feed.changed.connect(this.onChanges, this);
    feed.reset.connect(this.onReset, this);
  }

  /** Emitted whenever anything the view shows changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._abort?.abort();
    window.clearTimeout(this._reloadTimer);
    window.clearTimeout(this._columnsTimer);
    Signal.clearData(this);
  }

  // settings ---------------------------------------------------------------------------------

  get settings(): IMltrackSettings {
    return this._settings;
  }

  set settings(value: IMltrackSettings) {
    this._settings = value;
    this.feed.interval = value.refreshInterval;
  }

  // experiments --------------------------------------------------------------------------------

  get experiments(): IExperiment[] {
    return this._experiments;
  }

  get experimentsError(): string | null {
    return this._experimentsError;
  }

  get selectedExperiments(): string[] {
    return this._selectedExperiments;
  }

  /** Load the experiment list; the first time, choose the most recently updated one with runs. */
  async refreshExperiments(): Promise<void> {
    try {
      this._experiments = await this.api.experiments();
      this._experimentsError = null;
    } catch (error) {
      this._experimentsError = messageOf(error);
      this.emit();
      return;
    }
    const known = new Set(this._experiments.map(e => e.experiment_id));
    const kept = this._selectedExperiments.filter(id => known.has(id));
    if (!kept.length && this._experiments.length) {
      const latest = [...this._experiments].sort(
        (a, b) => b.last_update_time - a.last_update_time
      )[0];
      await this.selectExperiment(latest.experiment_id, false, false);
      return;
    }
    this.emit();
  }

  /**
   * Show the runs of an experiment; with `additive`, add it to (or remove it from) the ones
   * shown.
   */
  async selectExperiment(experimentId: string, additive: boolean, byUser = true): Promise<void> {
    this._userChose = this._userChose || byUser;
    let ids: string[];
    if (additive) {
      ids = this._selectedExperiments.includes(experimentId)
        ? this._selectedExperiments.filter(id => id !== experimentId)
        : [...this._selectedExperiments, experimentId];
      if (!ids.length) {
        return;
      }
    } else {
      ids = [experimentId];
    }
    this._selectedExperiments = ids;
    this._selection.clear();
    this._anchor = null;
    this._rows = [];
    this._total = 0;
    this._nextPageToken = null;
    this.emit();
    await this.loadColumns();
    await this.reload();
  }

  // columns ----------------------------------------------------------------------------------

  get columns(): IColumn[] {
    return this._columns;
  }

  get availableColumns(): IRunColumns {
    return this._available;
  }

  /** Choose the data columns (remembered for this choice of experiments). */
  async setColumns(columns: IColumn[]): Promise<void> {
    this._columns = columns;
    this._chosenColumns.set(this.experimentKey, columns);
    if (this._sort && parseColumn(this._sort.column)) {
      const still = columns.some(c => columnId(c) === this._sort?.column);
      if (!still) {
        this._sort = null;
      }
    }
    await this.reload();
  }

  private get experimentKey(): string {
    return [...this._selectedExperiments].sort().join(',');
  }

  private async loadColumns(): Promise<void> {
    if (!this._selectedExperiments.length) {
      return;
    }
    try {
      this._available = await this.api.runColumns(this._selectedExperiments);
    } catch (error) {
      this._available = { metrics: [], params: [], tags: [] };
    }
    const chosen = this._chosenColumns.get(this.experimentKey);
    if (chosen) {
      this._columns = chosen;
    } else {
      this._columns = this.defaultColumns();
    }
    this.emit();
  }

  /** The settings' default columns, or else the first few metrics and params. */
  private defaultColumns(): IColumn[] {
    const configured = this._settings.defaultColumns
      .map(parseColumn)
      .filter((c): c is IColumn => c !== null);
    if (configured.length) {
      return configured;
    }
    return [
      ...this._available.metrics.slice(0, 3).map(key => ({ kind: 'metrics' as const, key })),
      ...this._available.params.slice(0, 3).map(key => ({ kind: 'params' as const, key }))
    ];
  }

  // filter, sort, view type ----------------------------------------------------------------

  get filter(): string {
    return this._filter;
  }

  /** The server's complaint about the filter, if it had one. */
  get filterError(): string | null {
    return this._filterError;
  }

  /** Apply a filter (the search grammar); an invalid one leaves its error in filterError. */
  async setFilter(text: string): Promise<void> {
    this._filter = text;
    await this.reload();
  }

  get sort(): ISort | null {
    return this._sort;
  }

  /** Sort by a column: first ascending, then descending, then back to the default order. */
  async toggleSort(column: string): Promise<void> {
    const current = this._sort;
    if (!current || current.column !== column) {
      this._sort = { column, ascending: true };
    } else if (current.ascending) {
      this._sort = { column, ascending: false };
    } else {
      this._sort = null;
    }
    await this.reload();
  }

  get viewType(): ViewType {
    return this._viewType;
  }

  /** Show active runs, or deleted ones (to restore them). */
  async setViewType(viewType: ViewType): Promise<void> {
    this._viewType = viewType;
    this._selection.clear();
    await this.reload();
  }

  // rows -------------------------------------------------------------------------------------

  get rows(): IRunRow[] {
    return this._rows;
  }

  /** How many runs match, over all pages. */
  get total(): number {
    return this._total;
  }

  get loading(): boolean {
    return this._loading;
  }

  get error(): string | null {
    return this._error;
  }

  get hasMore(): boolean {
    return this._nextPageToken !== null;
  }

  /** Changes whenever the rows answer a different query (not on live updates). */
  get generation(): number {
    return this._generation;
  }

  /** A loaded run by id. */
  row(runId: string): IRunRow | undefined {
    return this._byId.get(runId);
  }

  /**
   * Load the first page again, keeping as many rows as are loaded now (so live updates do not
   * shrink a table the user has scrolled through).
   */
  async reload(keepLoaded = false): Promise<void> {
    if (!this._selectedExperiments.length) {
      return;
    }
    this._abort?.abort();
    const abort = new AbortController();
    this._abort = abort;
    if (!keepLoaded) {
      this._generation += 1; // a new question: the table starts again at its top
    }
    const size = keepLoaded
      ? Math.min(10_000, Math.max(this._settings.pageSize, this._rows.length))
      : this._settings.pageSize;
    this._loading = true;
    this.emit();
    try {
      const page = await this.api.runs(this.query(size, null), abort.signal);
      if (abort.signal.aborted) {
        return;
      }
      this._filterError = null;
      this._error = null;
      this.setRows(page.runs);
      this._total = page.total;
      this._nextPageToken = page.next_page_token;
    } catch (error) {
      if (abort.signal.aborted) {
        return;
      }
      if (error instanceof MltrackApiError && error.status === 400 && this._filter.trim()) {
        // the filter is the only free text in the request: the complaint is about it
        this._filterError = error.message;
        this.setRows([]);
        this._total = 0;
        this._nextPageToken = null;
      } else {
        this._error = messageOf(error);
      }
    } finally {
      if (!abort.signal.aborted) {
        this._loading = false;
        this.emit();
      }
    }
  }

  /** Load the next page (when the table scrolls near its end). */
  async loadMore(): Promise<void> {
    if (this._loading || this._nextPageToken === null) {
      return;
    }
    const abort = new AbortController();
    this._abort = abort;
    this._loading = true;
    this.emit();
    try {
      const page = await this.api.runs(
        this.query(this._settings.pageSize, this._nextPageToken),
        abort.signal
      );
      if (abort.signal.aborted) {
        return;
      }
      const fresh = page.runs.filter(r => !this._byId.has(r.run_id));
      this.setRows([...this._rows, ...fresh]);
      this._total = page.total;
      this._nextPageToken = page.next_page_token;
    } catch (error) {
      if (!abort.signal.aborted) {
        this._error = messageOf(error);
      }
    } finally {
      if (!abort.signal.aborted) {
        this._loading = false;
        this.emit();
      }
    }
  }

  private query(maxResults: number, pageToken: string | null) {
    const term = this._sort ? orderTerm(this._sort) : null;
    return {
      experimentIds: this._selectedExperiments,
      filter: this._filter,
      viewType: this._viewType,
      orderBy: term ? [term] : undefined,
      maxResults,
      pageToken,
      metrics: this._columns.filter(c => c.kind === 'metrics').map(c => c.key),
      params: this._columns.filter(c => c.kind === 'params').map(c => c.key),
      tags: this._columns.filter(c => c.kind === 'tags').map(c => c.key)
    };
  }

  private setRows(rows: IRunRow[]): void {
    this._rows = rows;
    this._byId = new Map(rows.map(r => [r.run_id, r]));
    for (const id of [...this._selection]) {
      if (!this._byId.has(id)) {
        this._selection.delete(id);
      }
    }
    this._display = null;
  }

  // tree -------------------------------------------------------------------------------------

  /** Whether nested runs are shown under their parents. */
  get tree(): boolean {
    return this._tree;
  }

  set tree(value: boolean) {
    this._tree = value;
    this._display = null;
    this.emit();
  }

  /** Fold or unfold a parent run's children. */
  toggleCollapsed(runId: string): void {
    if (this._collapsed.has(runId)) {
      this._collapsed.delete(runId);
    } else {
      this._collapsed.add(runId);
    }
    this._display = null;
    this.emit();
  }

  /**
   * The rows in display order: in the server's order, with each run's loaded children right
   * under it (in their own server order) when the tree is on.
   */
  get display(): IDisplayRow[] {
    if (this._display) {
      return this._display;
    }
    const rows = this._rows;
    if (!this._tree) {
      this._display = rows.map(run => ({ run, depth: 0, hasChildren: false, collapsed: false }));
      return this._display;
    }
    const children = new Map<string, IRunRow[]>();
    const roots: IRunRow[] = [];
    for (const run of rows) {
      const parent = run.parent_run_id;
      if (parent && parent !== run.run_id && this._byId.has(parent)) {
        const list = children.get(parent) ?? [];
        list.push(run);
        children.set(parent, list);
      } else {
        roots.push(run);
      }
    }
    const out: IDisplayRow[] = [];
    const seen = new Set<string>();
    // the runs under a collapsed parent are visited too (hidden), so that they do not pass
    // for runs that only a cycle reaches and come back at the top level
    const visit = (run: IRunRow, depth: number, hidden: boolean) => {
      if (seen.has(run.run_id)) {
        return; // a cycle of parent ids must not loop
      }
      seen.add(run.run_id);
      const kids = children.get(run.run_id) ?? [];
      const collapsed = this._collapsed.has(run.run_id);
      if (!hidden) {
        out.push({ run, depth, hasChildren: kids.length > 0, collapsed });
      }
      kids.forEach(kid => visit(kid, depth + 1, hidden || collapsed));
    };
    roots.forEach(run => visit(run, 0, false));
    // runs only reachable through a cycle still get a row
    rows.filter(r => !seen.has(r.run_id)).forEach(r => visit(r, 0, false));
    this._display = out;
    return out;
  }

  // selection ---------------------------------------------------------------------------------

  /** The selected run ids, in display order. */
  get selected(): string[] {
    return this.display.map(d => d.run.run_id).filter(id => this._selection.has(id));
  }

  isSelected(runId: string): boolean {
    return this._selection.has(runId);
  }

  /** Change the selection as a click (with ctrl/cmd: toggle, with shift: range) would. */
  select(runId: string, mode: SelectMode): void {
    if (mode === 'single') {
      this._selection = new Set([runId]);
      this._anchor = runId;
    } else if (mode === 'toggle') {
      if (this._selection.has(runId)) {
        this._selection.delete(runId);
      } else {
        this._selection.add(runId);
      }
      this._anchor = runId;
    } else {
      const ids = this.display.map(d => d.run.run_id);
      const from = this._anchor ? ids.indexOf(this._anchor) : -1;
      const to = ids.indexOf(runId);
      if (from < 0 || to < 0) {
        this._selection = new Set([runId]);
        this._anchor = runId;
      } else {
        const [lo, hi] = from < to ? [from, to] : [to, from];
        this._selection = new Set(ids.slice(lo, hi + 1));
      }
    }
    this.emit();
  }

  /** Select every loaded run, or none. */
  selectAll(all: boolean): void {
    this._selection = all ? new Set(this._rows.map(r => r.run_id)) : new Set();
    this.emit();
  }

  // live updates -----------------------------------------------------------------------------

  private onChanges(_: ChangeFeed, changes: IChanges): void {
    let dirty = false;
    let needReload = false;
    let newKeys = false;
    if (changes.experiments.length) {
      const byId = new Map(this._experiments.map(e => [e.experiment_id, e]));
      for (const e of changes.experiments) {
        byId.set(e.experiment_id, e);
      }
      this._experiments = [...byId.values()].filter(e => e.lifecycle_stage === 'active');
      dirty = true;
    }
    // Until the user picks an experiment, an empty one shown gives way to the first that logs.
    if (!this._userChose && this._total === 0 && !this._loading) {
      const active = changes.runs.find(r => !this._selectedExperiments.includes(r.experiment_id));
      if (active) {
        void this.selectExperiment(active.experiment_id, false, false);
        return;
      }
    }
    const shown = new Set(this._selectedExperiments);
    const wantStage = this._viewType === 'DELETED_ONLY' ? 'deleted' : 'active';
    for (const summary of changes.runs) {
      const row = this._byId.get(summary.run_id);
      if (row) {
        if (this._viewType !== 'ALL' && summary.lifecycle_stage !== wantStage) {
          needReload = true; // deleted or restored elsewhere: it leaves this view
        }
        Object.assign(row, summary);
        dirty = true;
      } else if (shown.has(summary.experiment_id)) {
        needReload = true; // a new run (or one that now matches): its place is the server's call
      }
    }
    for (const id of changes.removed_runs) {
      if (this._byId.has(id)) {
        needReload = true;
      }
    }
    const metricKeys = new Set(this._available.metrics);
    const shownMetrics = new Set(this._columns.filter(c => c.kind === 'metrics').map(c => c.key));
    for (const point of changes.metrics) {
      const row = this._byId.get(point.run_id);
      if (row && shownMetrics.has(point.key)) {
        row.metrics = { ...row.metrics, [point.key]: point.value };
        dirty = true;
        if (this._sort?.column === `metrics.${point.key}`) {
          needReload = true; // the order may have changed
        }
      }
      if (!metricKeys.has(point.key) && (row || needReload)) {
        newKeys = true;
      }
    }
    if (changes.runs.length && this._filter.trim()) {
      needReload = true; // a run that changed may now match the filter, or stop matching
    }
    if (newKeys || (needReload && !this._available.metrics.length)) {
      this.scheduleColumns();
    }
    if (needReload) {
      this.scheduleReload();
    }
    if (dirty) {
      this._rows = [...this._rows];
      this._display = null;
      this.emit();
    }
  }

  private onReset(): void {
    void this.refreshExperiments().then(() => this.reload(true));
  }

  private scheduleReload(): void {
    window.clearTimeout(this._reloadTimer);
    this._reloadTimer = window.setTimeout(() => void this.reload(true), 200);
  }

  /** New keys appeared: refresh the column list and, if the user chose none, the defaults. */
  private scheduleColumns(): void {
    window.clearTimeout(this._columnsTimer);
    this._columnsTimer = window.setTimeout(async () => {
      const hadChoice = this._chosenColumns.has(this.experimentKey);
      const before = this._columns.map(columnId).join('|');
      await this.loadColumns();
      if (!hadChoice && this._columns.map(columnId).join('|') !== before) {
        await this.reload(true);
      }
    }, 300);
  }

  private emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private _settings: IMltrackSettings;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
  private _experiments: IExperiment[] = [];
  private _experimentsError: string | null = null;
  private _selectedExperiments: string[] = [];
  private _userChose = false;
  private _available: IRunColumns = { metrics: [], params: [], tags: [] };
  private _columns: IColumn[] = [];
  private _chosenColumns = new Map<string, IColumn[]>();
  private _filter = '';
  private _filterError: string | null = null;
  private _sort: ISort | null = null;
  private _viewType: ViewType = 'ACTIVE_ONLY';
  private _rows: IRunRow[] = [];
  private _byId = new Map<string, IRunRow>();
  private _total = 0;
  private _nextPageToken: string | null = null;
  private _loading = false;
  private _error: string | null = null;
  private _abort: AbortController | null = null;
  private _tree = true;
  private _collapsed = new Set<string>();
  private _display: IDisplayRow[] | null = null;
  private _selection = new Set<string>();
  private _anchor: string | null = null;
  private _reloadTimer = 0;
  private _generation = 0;
  private _columnsTimer = 0;
}

/**
 * From a run to the notebook cell that produced it: find the cell (by the id JupyterLab gave it,
 * which the kernel recorded with the run) in an open notebook, or open the run's notebook, then
 * select the cell, scroll to it and flash it.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { PageConfig, PathExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { MltrackApi, messageOf } from './api';
import { ICell } from './tokens';

/** How long a found cell stays highlighted, in milliseconds. */
const FLASH_MS = 2000;

/** The cell a run is best shown at when no cell is named: the first one with a front-end id. */
export function firstCell(cells: ICell[]): ICell | null {
  const ordered = [...cells].sort((a, b) => a.seq - b.seq);
  return ordered.find(c => c.cell_id && !c.cell_id.startsWith('exec-')) ?? ordered[0] ?? null;
}

/** The notebook a run came from, as an absolute path (from its tags). */
export function notebookOf(tags: Record<string, string>): string | null {
  const path = tags['mltrack.notebook'] || tags['mlflow.source.name'] || '';
  return path.toLowerCase().endsWith('.ipynb') ? path : null;
}

/**
 * Candidate paths, relative to the server's root, for an absolute file path: exact when the
 * root is known, otherwise the path with ever more leading folders removed.
 */
export function relativeCandidates(absolute: string, serverRoot: string): string[] {
  const path = absolute.replace(/\\/g, '/');
  const root = serverRoot.replace(/\\/g, '/').replace(/\/+$/, '');
  if (root && !root.startsWith('~') && (path + '/').startsWith(root + '/')) {
    return [path.slice(root.length).replace(/^\/+/, '')];
  }
  if (!path.startsWith('/') && !/^[A-Za-z]:\//.test(path)) {
    return [path]; // already relative
  }
  const parts = path
    .replace(/^[A-Za-z]:/, '')
    .split('/')
    .filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    out.push(parts.slice(i).join('/'));
  }
  return out;
}

function findCell(tracker: INotebookTracker, cellId: string): [NotebookPanel, number] | null {
  let found: [NotebookPanel, number] | null = null;
  tracker.forEach(panel => {
    if (found) {
      return;
    }
    const index = panel.content.widgets.findIndex(cell => cell.model.id === cellId);
    if (index >= 0) {
      found = [panel, index];
    }
  });
  return found;
}

async function reveal(app: JupyterFrontEnd, panel: NotebookPanel, index: number): Promise<void> {
  app.shell.activateById(panel.id);
  const notebook = panel.content;
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  const cell = notebook.widgets[index];
  await notebook.scrollToCell(cell, 'center');
  cell.addClass('jp-mltrack-flash');
  window.setTimeout(() => cell.removeClass('jp-mltrack-flash'), FLASH_MS);
}

async function openNotebook(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  absolute: string
): Promise<NotebookPanel | null> {
  const contents = app.serviceManager.contents;
  for (const candidate of relativeCandidates(absolute, PageConfig.getOption('serverRoot'))) {
    try {
      await contents.get(candidate, { content: false });
    } catch {
      continue;
    }
    await app.commands.execute('docmanager:open', { path: candidate, factory: 'Notebook' });
    const panel = tracker.find(
      p => p.context.path === candidate || p.context.path === PathExt.normalize(candidate)
    );
    if (panel) {
      await panel.context.ready;
      return panel;
    }
  }
  return null;
}

/**
 * Show the cell `cellId` of run `runId` (the run's first cell when none is given).
 *
 * @returns whether the cell was found and shown; a notification says why not otherwise.
 */
export async function jumpToCell(
  app: JupyterFrontEnd,
  tracker: INotebookTracker | null,
  api: MltrackApi,
  runId: string,
  cellId?: string | null
): Promise<boolean> {
  if (!tracker) {
    Notification.warning('Jumping to a cell needs the notebook extension of JupyterLab.');
    return false;
  }
  try {
    if (!cellId) {
      const cell = firstCell(await api.cells(runId));
      if (!cell?.cell_id) {
        Notification.info('This run recorded no notebook cells.', { autoClose: 5000 });
        return false;
      }
      cellId = cell.cell_id;
    }
    let found = findCell(tracker, cellId);
    if (!found) {
      const run = await api.run(runId);
      const path = notebookOf(run.data.tags);
      if (!path) {
        Notification.info('The notebook this run came from is unknown.', { autoClose: 5000 });
        return false;
      }
      const panel = await openNotebook(app, tracker, path);
      if (!panel) {
        Notification.warning(`Cannot open the notebook ${path} from this server.`, {
          autoClose: 6000
        });
        return false;
      }
      const index = panel.content.widgets.findIndex(c => c.model.id === cellId);
      if (index < 0) {
        Notification.warning(
          `The cell is no longer in ${PathExt.basename(panel.context.path)} (deleted, or the notebook was not saved after it ran).`,
          { autoClose: 6000 }
        );
        app.shell.activateById(panel.id);
        return false;
      }
      found = [panel, index];
    }
    await reveal(app, found[0], found[1]);
    return true;
  } catch (error) {
    Notification.error(`Cannot show the cell: ${messageOf(error)}`, {
      autoClose: 6000
    });
    return false;
  }
}

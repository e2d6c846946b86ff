/**
 * jupyter-mltrack's JupyterLab extension: two plugins. `jupyter-mltrack:api` provides the
 * server's client ({@link IMltrackApi}); `jupyter-mltrack:plugin` registers the sidebar, the
 * main-area views, the commands (palette and context menu) and the settings, and provides the
 * sidebar's runs model ({@link IRunsModel}). Everything else lives in its own module.
 */

import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, Notification, WidgetTracker } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';

import { deleteRuns, renameRun, restoreRuns, tagRuns } from './actions';
import { MltrackApi } from './api';
import { ChangeFeed } from './feed';
import { mltrackIcon } from './icons';
import { RunsModel } from './model';
import { jumpToCell } from './notebook';
import {
  CommandIDs,
  DEFAULT_SETTINGS,
  IMltrackApi,
  IMltrackSettings,
  IRunActions,
  IRunsModel
} from './tokens';
import {
  ComparePanel,
  IViewContext,
  RegistryPanel,
  RunPanel,
  mainArea,
  runLabel,
  runWidgetId
} from './widgets/MainViews';
import { MltrackSidebar } from './widgets/SidebarWidget';

const PLUGIN_ID = 'jupyter-mltrack:plugin';
const CATEGORY = 'ML Tracking';

function readSettings(settings: ISettingRegistry.ISettings | null): IMltrackSettings {
  if (!settings) {
    return { ...DEFAULT_SETTINGS };
  }
  const composite = settings.composite as Partial<IMltrackSettings>;
  return {
    refreshInterval: Number(composite.refreshInterval ?? DEFAULT_SETTINGS.refreshInterval),
    defaultColumns: Array.isArray(composite.defaultColumns)
      ? composite.defaultColumns.map(String)
      : DEFAULT_SETTINGS.defaultColumns,
    chartPoints: Number(composite.chartPoints ?? DEFAULT_SETTINGS.chartPoints),
    pageSize: Number(composite.pageSize ?? DEFAULT_SETTINGS.pageSize)
  };
}

function stringArg(args: Record<string, unknown>, name: string): string | null {
  const value = args[name];
  return typeof value === 'string' && value ? value : null;
}

function listArg(args: Record<string, unknown>, name: string): string[] | null {
  const value = args[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : null;
}

async function activate(
  app: JupyterFrontEnd,
  api: MltrackApi,
  palette: ICommandPalette | null,
  settingRegistry: ISettingRegistry | null,
  notebooks: INotebookTracker | null,
  rendermime: IRenderMimeRegistry | null,
  restorer: ILayoutRestorer | null,
  state: IStateDB | null
): Promise<RunsModel> {
  let settings = { ...DEFAULT_SETTINGS };
  const feed = new ChangeFeed(api, settings.refreshInterval);
  const model = new RunsModel(api, feed, settings);
  const { commands, shell } = app;

  const runTracker = new WidgetTracker<MainAreaWidget<RunPanel>>({ namespace: 'mltrack-run' });
  const registryTracker = new WidgetTracker<MainAreaWidget<RegistryPanel>>({
    namespace: 'mltrack-registry'
  });

  const actions: IRunActions = {
    openRun: runId => void commands.execute(CommandIDs.openRun, { runId }),
    compare: runIds => void commands.execute(CommandIDs.compareRuns, { runIds }),
    jumpToCell: async (runId, cellId) => {
      await jumpToCell(app, notebooks, api, runId, cellId);
    },
    openRegistry: (name, version) =>
      void commands.execute(CommandIDs.openRegistry, { name: name ?? '', version: version ?? '' })
  };
  const context: IViewContext = { api, feed, actions, rendermime, settings: () => settings };

  const sidebar = new MltrackSidebar(model, commands, actions.openRun);
  shell.add(sidebar, 'left', { rank: 600 });
  if (restorer) {
    restorer.add(sidebar, sidebar.id);
  }

  // the runs a command acts on: its args, else the sidebar's selection
  const runsOf = (args: Record<string, unknown>): string[] =>
    listArg(args, 'runIds') ??
    (stringArg(args, 'runId') ? [stringArg(args, 'runId') as string] : model.selected);
  const afterChange = () => void model.reload(true);

  commands.addCommand(CommandIDs.showSidebar, {
    label: 'Show the ML Tracking sidebar',
    icon: mltrackIcon,
    execute: () => shell.activateById(sidebar.id)
  });
  commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh experiments and runs',
    execute: async () => {
      await model.refreshExperiments();
      await model.reload(true);
    }
  });
  commands.addCommand(CommandIDs.openRun, {
    label: args => (args.runId ? `Open run ${args.runId}` : 'Open the selected run'),
    icon: mltrackIcon,
    isEnabled: args => runsOf(args).length >= 1,
    execute: args => {
      const runId = runsOf(args)[0];
      if (!runId) {
        return;
      }
      const existing = runTracker.find(w => w.content.runId === runId);
      if (existing) {
        shell.activateById(existing.id);
        return existing;
      }
      const widget = mainArea(new RunPanel(runId, context), runWidgetId(runId), runLabel(runId));
      void runTracker.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
      return widget;
    }
  });
  commands.addCommand(CommandIDs.compareRuns, {
    label: 'Compare the selected runs',
    isEnabled: args => runsOf(args).length >= 2,
    execute: args => {
      const runIds = runsOf(args);
      if (runIds.length < 2) {
        Notification.info('Select two or more runs to compare.', { autoClose: 4000 });
        return;
      }
      const id = `jp-mltrack-compare-${Date.now()}`;
      const widget = mainArea(
        new ComparePanel(runIds, context),
        id,
        `Compare ${runIds.length} runs`
      );
      shell.add(widget, 'main');
      shell.activateById(widget.id);
      return widget;
    }
  });
  commands.addCommand(CommandIDs.renameRun, {
    label: 'Rename run…',
    isEnabled: args => runsOf(args).length === 1,
    execute: async args => {
      const runId = runsOf(args)[0];
      if (runId && (await renameRun(api, runId, model.row(runId)?.run_name ?? ''))) {
        afterChange();
      }
    }
  });
  commands.addCommand(CommandIDs.tagRuns, {
    label: 'Tag runs…',
    isEnabled: args => runsOf(args).length >= 1,
    execute: async args => {
      if (await tagRuns(api, runsOf(args))) {
        afterChange();
      }
    }
  });
  commands.addCommand(CommandIDs.deleteRuns, {
    label: 'Delete runs…',
    isEnabled: args => runsOf(args).length >= 1 && model.viewType !== 'DELETED_ONLY',
    execute: async args => {
      if (await deleteRuns(api, runsOf(args))) {
        afterChange();
      }
    }
  });
  commands.addCommand(CommandIDs.restoreRuns, {
    label: 'Restore runs',
    isEnabled: args => runsOf(args).length >= 1 && model.viewType !== 'ACTIVE_ONLY',
    execute: async args => {
      if (await restoreRuns(api, runsOf(args))) {
        afterChange();
      }
    }
  });
  commands.addCommand(CommandIDs.showDeleted, {
    label: 'Show deleted runs',
    isToggled: () => model.viewType === 'DELETED_ONLY',
    execute: () =>
      void model.setViewType(model.viewType === 'DELETED_ONLY' ? 'ACTIVE_ONLY' : 'DELETED_ONLY')
  });
  commands.addCommand(CommandIDs.jumpToCell, {
    label: 'Open the notebook at the run’s cell',
    isEnabled: args => runsOf(args).length === 1,
    execute: async args => {
      const runId = runsOf(args)[0];
      if (runId) {
        await jumpToCell(app, notebooks, api, runId, stringArg(args, 'cellId'));
      }
    }
  });
  commands.addCommand(CommandIDs.openRegistry, {
    label: 'Open the model registry',
    icon: mltrackIcon,
    execute: args => {
      let widget = registryTracker.currentWidget ?? registryTracker.find(() => true);
      if (!widget || widget.isDisposed) {
        widget = mainArea(new RegistryPanel(context), 'jp-mltrack-registry', 'Model registry');
        void registryTracker.add(widget);
        shell.add(widget, 'main');
      }
      const name = stringArg(args, 'name');
      if (name) {
        widget.content.select(name, stringArg(args, 'version'));
      }
      shell.activateById(widget.id);
      return widget;
    }
  });

  if (palette) {
    for (const command of [
      CommandIDs.showSidebar,
      CommandIDs.refresh,
      CommandIDs.openRun,
      CommandIDs.compareRuns,
      CommandIDs.renameRun,
      CommandIDs.tagRuns,
      CommandIDs.deleteRuns,
      CommandIDs.restoreRuns,
      CommandIDs.showDeleted,
      CommandIDs.jumpToCell,
      CommandIDs.openRegistry
    ]) {
      palette.addItem({ command, category: CATEGORY });
    }
  }

  const rowSelector = '.jp-mltrack-RunTable-row';
  [
    CommandIDs.openRun,
    CommandIDs.compareRuns,
    CommandIDs.jumpToCell,
    CommandIDs.renameRun,
    CommandIDs.tagRuns,
    CommandIDs.deleteRuns,
    CommandIDs.restoreRuns
  ].forEach((command, i) => app.contextMenu.addItem({ command, selector: rowSelector, rank: i }));

  if (restorer) {
    void restorer.restore(runTracker, {
      command: CommandIDs.openRun,
      args: w => ({ runId: w.content.runId }),
      name: w => w.content.runId
    });
    void restorer.restore(registryTracker, {
      command: CommandIDs.openRegistry,
      args: () => ({}),
      name: () => 'registry'
    });
  }

  const apply = (loaded: ISettingRegistry.ISettings | null) => {
    settings = readSettings(loaded);
    model.settings = settings;
  };
  if (settingRegistry) {
    try {
      const loaded = await settingRegistry.load(PLUGIN_ID);
      apply(loaded);
      loaded.changed.connect(() => apply(loaded));
    } catch (error) {
      console.warn('jupyter-mltrack: cannot load settings, using defaults', error);
    }
  }

  feed.start();
  void app.restored.then(async () => {
    // the first time in a workspace, show the sidebar so people find it; after that the
    // workspace remembers what the user had open
    if (state) {
      const key = `${PLUGIN_ID}:introduced`;
      if (!(await state.fetch(key))) {
        shell.activateById(sidebar.id);
        await state.save(key, true);
      }
    }
    await model.refreshExperiments();
  });
  return model;
}

/** The client of the server, for this extension and any other that wants it. */
const apiPlugin: JupyterFrontEndPlugin<MltrackApi> = {
  id: 'jupyter-mltrack:api',
  description: 'The typed client of the jupyter-mltrack server.',
  autoStart: true,
  provides: IMltrackApi,
  activate: () => new MltrackApi()
};

const plugin: JupyterFrontEndPlugin<RunsModel> = {
  id: PLUGIN_ID,
  description: 'Experiment tracking and the model registry of jupyter-mltrack, in JupyterLab.',
  autoStart: true,
  requires: [IMltrackApi],
  // in the order of activate's arguments
  optional: [
    ICommandPalette,
    ISettingRegistry,
    INotebookTracker,
    IRenderMimeRegistry,
    ILayoutRestorer,
    IStateDB
  ],
  provides: IRunsModel,
  activate
};

export default [apiPlugin, plugin];

/**
 * The main-area views as Lumino widgets: one run, a comparison of runs, the registry.
 */

import { MainAreaWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MltrackApi } from '../api';
import { CompareView } from '../components/CompareView';
import { RegistryView } from '../components/RegistryView';
import { RunView } from '../components/RunView';
import { ChangeFeed } from '../feed';
import { shortId } from '../format';
import { mltrackIcon } from '../icons';
import { IMltrackSettings, IRunActions } from '../tokens';

/** What every main-area view gets. */
export interface IViewContext {
  api: MltrackApi;
  feed: ChangeFeed;
  actions: IRunActions;
  rendermime: IRenderMimeRegistry | null;
  settings: () => IMltrackSettings;
}

/** The content of a run's tab. */
export class RunPanel extends ReactWidget {
  constructor(
    readonly runId: string,
    private readonly context: IViewContext
  ) {
    super();
    this.addClass('jp-mltrack-Main');
  }

  protected render(): JSX.Element {
    const c = this.context;
    return (
      <RunView
        api={c.api}
        feed={c.feed}
        runId={this.runId}
        actions={c.actions}
        rendermime={c.rendermime}
        settings={c.settings()}
        onTitle={title => {
          const parent = this.parent;
          if (parent instanceof MainAreaWidget) {
            parent.title.label = `Run: ${title}`;
          }
        }}
      />
    );
  }
}

/** The content of a compare tab. */
export class ComparePanel extends ReactWidget {
  constructor(
    readonly runIds: string[],
    private readonly context: IViewContext
  ) {
    super();
    this.addClass('jp-mltrack-Main');
  }

  protected render(): JSX.Element {
    const c = this.context;
    return (
      <CompareView api={c.api} runIds={this.runIds} settings={c.settings()} actions={c.actions} />
    );
  }
}

/** The content of the registry tab; {@link select} shows another model or version. */
export class RegistryPanel extends ReactWidget {
  constructor(private readonly context: IViewContext) {
    super();
    this.addClass('jp-mltrack-Main');
  }

  /** Show a model (the registry's first when null) and one of its versions (the newest when null). */
  select(name: string | null, version: string | null): void {
    this.name = name;
    this.version = version;
    this.update();
  }

  name: string | null = null;
  version: string | null = null;

  protected render(): JSX.Element {
    return (
      <RegistryView
        api={this.context.api}
        actions={this.context.actions}
        name={this.name}
        version={this.version}
        onSelect={(name, version) => this.select(name, version)}
      />
    );
  }
}

/** Wrap a view in a main-area tab with the extension's icon. */
export function mainArea<T extends ReactWidget>(
  content: T,
  id: string,
  label: string
): MainAreaWidget<T> {
  const widget = new MainAreaWidget({ content });
  widget.id = id;
  widget.title.label = label;
  widget.title.icon = mltrackIcon;
  widget.title.closable = true;
  return widget;
}

/** A tab id for a run view. */
export function runWidgetId(runId: string): string {
  return `jp-mltrack-run-${runId}`;
}

/** The label of a run's tab before its name is known. */
export function runLabel(runId: string): string {
  return `Run: ${shortId(runId)}`;
}

/**
 * The sidebar as a Lumino widget for JupyterLab's left area.
 */

import { ReactWidget } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { Sidebar } from '../components/Sidebar';
import { mltrackIcon } from '../icons';
import { RunsModel } from '../model';

/** The runs sidebar. */
export class MltrackSidebar extends ReactWidget {
  constructor(
    readonly model: RunsModel,
    private readonly commands: CommandRegistry,
    private readonly onOpen: (runId: string) => void
  ) {
    super();
    this.id = 'jp-mltrack-sidebar';
    this.title.icon = mltrackIcon;
    this.title.caption = 'ML Tracking: experiments and runs';
    this.addClass('jp-mltrack-SidebarWidget');
  }

  protected render(): JSX.Element {
    return <Sidebar model={this.model} commands={this.commands} onOpen={this.onOpen} />;
  }
}

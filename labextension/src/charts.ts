/**
 * Charts with plotly.js: loaded on first use (it is large, and the sidebar never needs it),
 * coloured from JupyterLab's CSS variables so light and dark themes both look right, redrawn
 * when the theme changes.
 */

import type { Config, Layout, PlotData } from 'plotly.js-dist-min';
import { ISignal, Signal } from '@lumino/signaling';

export type { Config, Layout, PlotData };

/** The plotly functions the views call. */
export interface IPlotly {
  react(
    root: HTMLElement,
    data: PlotData[],
    layout?: Layout,
    config?: Config
  ): Promise<HTMLElement>;
  purge(root: HTMLElement): void;
  Plots: { resize(root: HTMLElement): void };
}

let loading: Promise<IPlotly> | null = null;

/** plotly.js, loaded once, in its own chunk. */
export function loadPlotly(): Promise<IPlotly> {
  if (!loading) {
    loading = import('plotly.js-dist-min').then(mod => {
      const withDefault = mod as unknown as { default?: IPlotly };
      return withDefault.default ?? (mod as unknown as IPlotly);
    });
  }
  return loading;
}

/** Trace colours that read on light and dark backgrounds alike. */
export const COLORWAY = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f'
];

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/** A layout in the current theme's colours, merged with the view's own settings. */
export function themedLayout(layout: Layout): Layout {
  const text = cssVar('--jp-ui-font-color1', '#333');
  const muted = cssVar('--jp-ui-font-color2', '#777');
  const grid = cssVar('--jp-border-color2', '#ddd');
  const axis = (extra: unknown): Layout => ({
    gridcolor: grid,
    zerolinecolor: grid,
    linecolor: grid,
    tickfont: { color: muted },
    ...(typeof extra === 'object' && extra !== null ? (extra as Layout) : {})
  });
  return {
    autosize: true,
    margin: { l: 56, r: 16, t: 32, b: 40 },
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    colorway: COLORWAY,
    font: {
      family: cssVar('--jp-ui-font-family', 'sans-serif'),
      size: 11,
      color: text
    },
    legend: { font: { color: text }, bgcolor: 'rgba(0,0,0,0)' },
    hoverlabel: { font: { family: cssVar('--jp-code-font-family', 'monospace') } },
    ...layout,
    xaxis: axis(layout.xaxis),
    yaxis: axis(layout.yaxis)
  };
}

/** Plot options every chart shares. */
export const PLOT_CONFIG: Config = {
  responsive: true,
  displaylogo: false,
  modeBarButtonsToRemove: ['lasso2d', 'select2d'],
  toImageButtonOptions: { format: 'png', scale: 2 }
};

/**
 * Exponential moving average with the start-up bias removed (as TensorBoard smooths), so the
 * first points are not dragged towards zero. NaN and infinite points pass through unchanged.
 *
 * @param weight 0 (no smoothing) to just under 1 (very smooth).
 */
export function smooth(values: number[], weight: number): number[] {
  if (weight <= 0) {
    return values;
  }
  const out: number[] = [];
  let last = 0;
  let n = 0;
  for (const value of values) {
    if (!Number.isFinite(value)) {
      out.push(value);
      continue;
    }
    last = last * weight + (1 - weight) * value;
    n += 1;
    out.push(last / (1 - Math.pow(weight, n)));
  }
  return out;
}

class ThemeWatcher {
  constructor() {
    // JupyterLab marks the theme on <body>; a change there is a theme switch
    const observer = new MutationObserver(() => this._changed.emit());
    observer.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
    });
  }
  get changed(): ISignal<this, void> {
    return this._changed;
  }
  private _changed = new Signal<this, void>(this);
}

let watcher: ThemeWatcher | null = null;

/** Fires when the JupyterLab theme changes (charts redraw in the new colours). */
export function themeChanged(): ISignal<unknown, void> {
  if (!watcher) {
    watcher = new ThemeWatcher();
  }
  return watcher.changed;
}

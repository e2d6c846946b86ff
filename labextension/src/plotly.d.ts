/**
 * The part of plotly.js the views use (the package ships no types of its own; keeping this
 * small beats pulling in @types/plotly.js for a handful of calls).
 */
declare module 'plotly.js-dist-min' {
  /** A trace: `{type, x, y, mode, name, line, …}` as plotly documents it. */
  export interface PlotData {
    [key: string]: unknown;
  }
  /** A layout: axes, margins, fonts, colours. */
  export interface Layout {
    [key: string]: unknown;
  }
  /** Plot options: responsiveness, mode bar, … */
  export interface Config {
    [key: string]: unknown;
  }
  export function react(
    root: HTMLElement,
    data: PlotData[],
    layout?: Layout,
    config?: Config
  ): Promise<HTMLElement>;
  export function purge(root: HTMLElement): void;
  export const Plots: { resize(root: HTMLElement): void };
}

/**
 * One plotly chart as a React component: drawn once plotly has loaded, redrawn when its data,
 * its layout or the theme changes, resized with its container, purged when it goes away.
 */

import * as React from 'react';

import {
  IPlotly,
  Layout,
  PLOT_CONFIG,
  PlotData,
  loadPlotly,
  themeChanged,
  themedLayout
} from '../charts';

function useThemeTick(): number {
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    const signal = themeChanged();
    const slot = () => setTick(t => t + 1);
    signal.connect(slot);
    return () => {
      signal.disconnect(slot);
    };
  }, []);
  return tick;
}

/** A chart of `data` traces. */
export function Chart(props: {
  data: PlotData[];
  layout: Layout;
  height?: number;
  className?: string;
  title?: string;
}): JSX.Element {
  const ref = React.useRef<HTMLDivElement>(null);
  const plotly = React.useRef<IPlotly | null>(null);
  const theme = useThemeTick();
  const [error, setError] = React.useState<string | null>(null);

  React.useEffect(() => {
    let live = true;
    loadPlotly().then(
      p => {
        plotly.current = p;
        if (live && ref.current) {
          void p.react(ref.current, props.data, themedLayout(props.layout), PLOT_CONFIG);
        }
      },
      e => setError(`cannot load plotly.js: ${e}`)
    );
    return () => {
      live = false;
    };
  }, [props.data, props.layout, theme]);

  React.useEffect(() => {
    const node = ref.current;
    if (!node) {
      return;
    }
    const observer = new ResizeObserver(() => {
      if (plotly.current && node.offsetParent !== null && node.querySelector('.main-svg')) {
        plotly.current.Plots.resize(node);
      }
    });
    observer.observe(node);
    return () => {
      observer.disconnect();
      plotly.current?.purge(node);
    };
  }, []);

  return (
    <div className={'jp-mltrack-Chart ' + (props.className ?? '')} title={props.title}>
      {error && <div className="jp-mltrack-Error">{error}</div>}
      <div ref={ref} className="jp-mltrack-Chart-plot" style={{ height: props.height ?? 260 }} />
    </div>
  );
}

/**
 * A run's metrics as charts: one chart per key, x as step, wall time or time since the run
 * started, optional smoothing and log scale, points downsampled by the server (extremes kept).
 * Charts of a running run follow new points as they are logged.
 */

import * as React from 'react';

import { MltrackApi } from '../api';
import { PlotData, smooth } from '../charts';
import { ChangeFeed } from '../feed';
import { formatNumber } from '../format';
import { IChanges, IMetricSeries, XAxis } from '../tokens';
import { Chart } from './Chart';
import { ErrorMessage, Loading, Note, useAsync } from './common';

/** The chart options a user sets. */
export interface IChartOptions {
  x: XAxis;
  smoothing: number;
  logY: boolean;
}

const X_LABELS: Record<XAxis, string> = {
  step: 'Step',
  wall: 'Wall time',
  relative: 'Relative time (s)'
};

/** x values for plotly: dates for wall time, seconds for relative time. */
export function xValues(series: IMetricSeries, x: XAxis): (number | Date)[] {
  if (x === 'wall') {
    return series.x.map(v => new Date(v));
  }
  if (x === 'relative') {
    return series.x.map(v => v / 1000);
  }
  return series.x;
}

/** The traces of one series: the smoothed line, and the raw one faded behind it. */
export function seriesTraces(
  series: IMetricSeries,
  options: IChartOptions,
  name: string,
  color?: string
): PlotData[] {
  const x = xValues(series, options.x);
  const line = color ? { color, width: 1.6 } : { width: 1.6 };
  const hover = `${name}<br>step %{customdata}<br>%{y:.5g}<extra></extra>`;
  if (options.smoothing <= 0) {
    return [
      {
        type: 'scatter',
        mode: series.value.length < 2 ? 'markers' : 'lines',
        name,
        x,
        y: series.value,
        customdata: series.step,
        line,
        hovertemplate: hover
      }
    ];
  }
  return [
    {
      type: 'scatter',
      mode: 'lines',
      name: `${name} (raw)`,
      x,
      y: series.value,
      customdata: series.step,
      line: { ...line, width: 1 },
      opacity: 0.3,
      showlegend: false,
      hoverinfo: 'skip'
    },
    {
      type: 'scatter',
      mode: 'lines',
      name,
      x,
      y: smooth(series.value, options.smoothing),
      customdata: series.step,
      line,
      hovertemplate: hover
    }
  ];
}

/** The x axis, smoothing and log-scale controls. */
export function ChartControls(props: {
  options: IChartOptions;
  onChange: (options: IChartOptions) => void;
  children?: React.ReactNode;
}): JSX.Element {
  const { options, onChange } = props;
  return (
    <div className="jp-mltrack-ChartControls">
      {props.children}
      <label>
        x axis{' '}
        <select
          className="jp-mltrack-Select"
          value={options.x}
          onChange={e => onChange({ ...options, x: e.target.value as XAxis })}
        >
          <option value="step">Step</option>
          <option value="wall">Wall time</option>
          <option value="relative">Relative time</option>
        </select>
      </label>
      <label title="Exponential moving average">
        smoothing{' '}
        <input
          type="range"
          min={0}
          max={0.99}
          step={0.01}
          value={options.smoothing}
          onChange={e => onChange({ ...options, smoothing: Number(e.target.value) })}
        />
        <span className="jp-mltrack-ChartControls-value">{options.smoothing.toFixed(2)}</span>
      </label>
      <label>
        <input
          type="checkbox"
          checked={options.logY}
          onChange={e => onChange({ ...options, logY: e.target.checked })}
        />{' '}
        log scale
      </label>
    </div>
  );
}

/** Layout of a metric chart. */
export function metricLayout(key: string, options: IChartOptions, legend: boolean) {
  return {
    title: { text: key, font: { size: 12 }, x: 0.02, xanchor: 'left' },
    showlegend: legend,
    xaxis: { title: { text: X_LABELS[options.x] }, type: options.x === 'wall' ? 'date' : 'linear' },
    yaxis: { type: options.logY ? 'log' : 'linear' }
  };
}

/** Every metric of one run, charted. */
export function MetricCharts(props: {
  api: MltrackApi;
  feed: ChangeFeed;
  runId: string;
  keys: string[];
  points: number;
  live: boolean;
}): JSX.Element {
  const { api, feed, runId, points } = props;
  const [options, setOptions] = React.useState<IChartOptions>({
    x: 'step',
    smoothing: 0,
    logY: false
  });
  const [query, setQuery] = React.useState('');
  const keysKey = props.keys.join('\u0000');
  // the charts shown stay until the new histories arrive (no flash on a new axis or point)
  const {
    value: series,
    error,
    reload
  } = useAsync(
    signal => api.metricHistories([runId], props.keys, points, options.x, signal),
    [api, runId, keysKey, points, options.x]
  );

  // new points of this run: fetch the histories again (the feed paces how often)
  React.useEffect(() => {
    if (!props.live) {
      return;
    }
    const slot = (_: ChangeFeed, changes: IChanges) => {
      if (changes.metrics.some(m => m.run_id === runId)) {
        reload();
      }
    };
    feed.changed.connect(slot);
    return () => {
      feed.changed.disconnect(slot);
    };
  }, [feed, runId, props.live, reload]);

  if (!props.keys.length) {
    return <Note>This run has logged no metrics.</Note>;
  }
  const q = query.trim().toLowerCase();
  const shown = (series ?? []).filter(s => !q || s.key.toLowerCase().includes(q));
  return (
    <div className="jp-mltrack-MetricCharts">
      <ChartControls options={options} onChange={setOptions}>
        <input
          className="jp-mltrack-Input"
          placeholder="Search metrics"
          value={query}
          onChange={e => setQuery(e.target.value)}
        />
      </ChartControls>
      <ErrorMessage message={error} />
      {series === null && !error ? (
        <Loading />
      ) : (
        <>
          {/* a metric logged once is a number, not a curve */}
          <div className="jp-mltrack-SingleValues">
            {shown
              .filter(s => s.total_points <= 1)
              .map(s => (
                <div key={s.key} className="jp-mltrack-SingleValue" data-metric={s.key}>
                  <div className="jp-mltrack-SingleValue-key">{s.key}</div>
                  <div className="jp-mltrack-SingleValue-value" title={String(s.value[0])}>
                    {formatNumber(s.value[0])}
                  </div>
                </div>
              ))}
          </div>
          <div className="jp-mltrack-ChartGrid">
            {shown
              .filter(s => s.total_points > 1)
              .map(s => (
                <MetricChart key={s.key} series={s} options={options} />
              ))}
          </div>
        </>
      )}
    </div>
  );
}

function MetricChart(props: { series: IMetricSeries; options: IChartOptions }): JSX.Element {
  const { series, options } = props;
  const data = React.useMemo(() => seriesTraces(series, options, series.key), [series, options]);
  const layout = React.useMemo(
    () => metricLayout(series.key, options, false),
    [series.key, options]
  );
  const lastValue = series.value.length ? series.value[series.value.length - 1] : undefined;
  return (
    <div className="jp-mltrack-MetricChart" data-metric={series.key}>
      <Chart data={data} layout={layout} height={240} />
      <div className="jp-mltrack-MetricChart-foot">
        last {formatNumber(lastValue)} · {series.total_points.toLocaleString()} point
        {series.total_points === 1 ? '' : 's'}
        {series.downsampled ? ` (showing ${series.x.length})` : ''}
      </div>
    </div>
  );
}

/**
 * The compare view (main area), for 2 to a few hundred runs: a table of params and metrics
 * (optionally only those that differ), metric curves overlaid, parallel coordinates over params
 * and a metric, and a scatter of any param or metric against another. Only the chosen tab is
 * drawn, and curves ask the server for fewer points the more runs there are, so a hundred runs
 * stay responsive.
 */

import * as React from 'react';

import { MltrackApi, quoteValue } from '../api';
import { COLORWAY, PlotData } from '../charts';
import { formatNumber } from '../format';
import { IMetricSeries, IMltrackSettings, IRunActions, IRunRow } from '../tokens';
import { Chart } from './Chart';
import { ErrorMessage, Loading, Note, Tabs, useAsync } from './common';
import { ChartControls, IChartOptions, metricLayout, seriesTraces } from './MetricCharts';

/** The most keys of one kind the runs table route takes in one request. */
const MAX_KEYS = 200;

interface ICompareData {
  runs: IRunRow[];
  params: string[];
  metrics: string[];
}

async function loadCompare(
  api: MltrackApi,
  runIds: string[],
  signal: AbortSignal
): Promise<ICompareData> {
  const experiments = await api.experiments('ALL', signal);
  const filter = `attributes.run_id IN (${runIds.map(quoteValue).join(', ')})`;
  const base = {
    experimentIds: experiments.map(e => e.experiment_id),
    filter,
    viewType: 'ALL' as const,
    maxResults: Math.max(runIds.length, 1)
  };
  const summaries = await api.runs(base, signal);
  const involved = [...new Set(summaries.runs.map(r => r.experiment_id))];
  if (!involved.length) {
    return { runs: [], params: [], metrics: [] };
  }
  const columns = await api.runColumns(involved, signal);
  const page = await api.runs(
    {
      ...base,
      experimentIds: involved,
      metrics: columns.metrics.slice(0, MAX_KEYS),
      params: columns.params.slice(0, MAX_KEYS)
    },
    signal
  );
  // keep the order the runs were chosen in
  const byId = new Map(page.runs.map(r => [r.run_id, r]));
  const runs = runIds.map(id => byId.get(id)).filter((r): r is IRunRow => r !== undefined);
  const present = (kind: 'metrics' | 'params') =>
    [...new Set(runs.flatMap(r => Object.keys(r[kind])))].sort((a, b) => a.localeCompare(b));
  return { runs, params: present('params'), metrics: present('metrics') };
}

function runLabel(run: IRunRow): string {
  return run.run_name || run.run_id.slice(0, 8);
}

function differs(values: (string | number | undefined)[]): boolean {
  const seen = new Set(values.map(v => (v === undefined ? '\u0000missing' : String(v))));
  return seen.size > 1;
}

/** A param or metric value of a run, as a number when it is one. */
function valueOf(run: IRunRow, field: string): number | string | undefined {
  const [kind, ...rest] = field.split('.');
  const key = rest.join('.');
  if (kind === 'metrics') {
    return run.metrics[key];
  }
  const text = run.params[key];
  if (text === undefined) {
    return undefined;
  }
  const number = Number(text);
  return text.trim() !== '' && Number.isFinite(number) ? number : text;
}

/** The compare view of some runs. */
export function CompareView(props: {
  api: MltrackApi;
  runIds: string[];
  settings: IMltrackSettings;
  actions: IRunActions;
}): JSX.Element {
  const { api, runIds } = props;
  const { value: data, error } = useAsync(
    signal => loadCompare(api, runIds, signal),
    [api, runIds.join(',')]
  );
  const [tab, setTab] = React.useState('table');

  if (!data) {
    return (
      <div className="jp-mltrack-CompareView">
        <ErrorMessage message={error} title="Cannot load the runs" />
        {!error && <Loading />}
      </div>
    );
  }
  const missing = runIds.length - data.runs.length;
  return (
    <div className="jp-mltrack-CompareView" data-runs={data.runs.length}>
      <div className="jp-mltrack-RunView-header">
        <h1>Comparing {data.runs.length} runs</h1>
        {missing > 0 && <span className="jp-mltrack-Note">({missing} no longer exist)</span>}
      </div>
      <Tabs
        current={tab}
        onSelect={setTab}
        tabs={[
          { id: 'table', label: 'Table' },
          { id: 'curves', label: 'Metric curves' },
          { id: 'parallel', label: 'Parallel coordinates' },
          { id: 'scatter', label: 'Scatter' }
        ]}
      />
      <div className="jp-mltrack-RunView-body">
        {tab === 'table' && <CompareTable data={data} actions={props.actions} />}
        {tab === 'curves' && <Curves api={api} data={data} settings={props.settings} />}
        {tab === 'parallel' && <Parallel data={data} />}
        {tab === 'scatter' && <Scatter data={data} />}
      </div>
    </div>
  );
}

function CompareTable(props: { data: ICompareData; actions: IRunActions }): JSX.Element {
  const { data } = props;
  const [onlyDiff, setOnlyDiff] = React.useState(false);
  const rows: { section: string; key: string; values: (string | number | undefined)[] }[] = [];
  for (const key of data.params) {
    rows.push({ section: 'params', key, values: data.runs.map(r => r.params[key]) });
  }
  for (const key of data.metrics) {
    rows.push({ section: 'metrics', key, values: data.runs.map(r => r.metrics[key]) });
  }
  const shown = onlyDiff ? rows.filter(r => differs(r.values)) : rows;
  const section = (name: string, label: string) => {
    const part = shown.filter(r => r.section === name);
    return (
      <>
        <tr className="jp-mltrack-CompareTable-section">
          <th colSpan={data.runs.length + 1}>
            {label} ({part.length})
          </th>
        </tr>
        {part.map(r => (
          <tr
            key={`${name}.${r.key}`}
            className={differs(r.values) ? 'jp-mod-differs' : ''}
            data-key={`${name}.${r.key}`}
          >
            <th title={r.key}>{r.key}</th>
            {r.values.map((v, i) => (
              <td
                key={i}
                className={name === 'metrics' ? 'jp-mltrack-RunTable-number' : ''}
                title={v === undefined ? '' : String(v)}
              >
                {v === undefined ? '' : typeof v === 'number' ? formatNumber(v) : v}
              </td>
            ))}
          </tr>
        ))}
      </>
    );
  };
  return (
    <div className="jp-mltrack-CompareTable-wrap">
      <label className="jp-mltrack-CompareTable-toggle">
        <input type="checkbox" checked={onlyDiff} onChange={e => setOnlyDiff(e.target.checked)} />{' '}
        Show only differences
      </label>
      <div className="jp-mltrack-CompareTable-scroll">
        <table className="jp-mltrack-Table jp-mltrack-CompareTable">
          <thead>
            <tr>
              <th>Run</th>
              {data.runs.map((run, i) => (
                <th key={run.run_id} title={run.run_id}>
                  <span
                    className="jp-mltrack-Swatch"
                    style={{ background: COLORWAY[i % COLORWAY.length] }}
                  />
                  <a
                    href="#"
                    className="jp-mltrack-Link"
                    onClick={e => {
                      e.preventDefault();
                      props.actions.openRun(run.run_id);
                    }}
                  >
                    {runLabel(run)}
                  </a>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {section('params', 'Params')}
            {section('metrics', 'Metrics')}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function Curves(props: {
  api: MltrackApi;
  data: ICompareData;
  settings: IMltrackSettings;
}): JSX.Element {
  const { api, data } = props;
  const [key, setKey] = React.useState(data.metrics[0] ?? '');
  const [options, setOptions] = React.useState<IChartOptions>({
    x: 'step',
    smoothing: 0,
    logY: false
  });
  const ids = data.runs.map(r => r.run_id);
  // fewer points per curve the more curves there are: the chart stays light
  const points = Math.max(
    50,
    Math.min(
      props.settings.chartPoints,
      Math.floor((20 * props.settings.chartPoints) / Math.max(ids.length, 1))
    )
  );

  // start with the metric that has the longest history (a curve, not a single value); if that
  // cannot be found out, the first metric stays chosen
  const { value: longest } = useAsync(
    async signal => {
      if (data.metrics.length < 2 || !ids.length) {
        return null;
      }
      const keys = data.metrics.slice(0, 100);
      const found = await api.metricHistories([ids[0]], keys, 4, 'step', signal);
      const best = [...found].sort((a, b) => b.total_points - a.total_points)[0];
      return best && best.total_points > 1 ? best.key : null;
    },
    [api, ids[0]]
  );
  React.useEffect(() => {
    if (longest) {
      setKey(longest);
    }
  }, [longest]);

  // another metric or axis is another question: its curves replace the old ones, not join them
  const { value: series, error } = useAsync(
    signal =>
      key
        ? api.metricHistories(ids, [key], points, options.x, signal)
        : Promise.resolve<IMetricSeries[]>([]),
    [api, key, options.x, points, ids.join(',')],
    { reset: true }
  );

  const traces = React.useMemo(() => {
    if (!series) {
      return [];
    }
    const index = new Map(ids.map((id, i) => [id, i]));
    const names = new Map(data.runs.map(r => [r.run_id, runLabel(r)]));
    return series.flatMap(s => {
      const i = index.get(s.run_id) ?? 0;
      return seriesTraces(
        s,
        options,
        names.get(s.run_id) ?? s.run_id,
        COLORWAY[i % COLORWAY.length]
      );
    });
  }, [series, options]);
  const layout = React.useMemo(
    () => metricLayout(key, options, ids.length <= 20),
    [key, options, ids.length]
  );

  if (!data.metrics.length) {
    return <Note>These runs logged no metrics.</Note>;
  }
  return (
    <div>
      <ChartControls options={options} onChange={setOptions}>
        <label>
          metric{' '}
          <select className="jp-mltrack-Select" value={key} onChange={e => setKey(e.target.value)}>
            {data.metrics.map(m => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
      </ChartControls>
      <ErrorMessage message={error} />
      {series === null && !error ? (
        <Loading />
      ) : (
        <Chart data={traces} layout={layout} height={420} className="jp-mltrack-Curves" />
      )}
    </div>
  );
}

function FieldSelect(props: {
  data: ICompareData;
  value: string;
  onChange: (field: string) => void;
  label: string;
}): JSX.Element {
  return (
    <label>
      {props.label}{' '}
      <select
        className="jp-mltrack-Select"
        value={props.value}
        onChange={e => props.onChange(e.target.value)}
      >
        <optgroup label="Params">
          {props.data.params.map(p => (
            <option key={`p${p}`} value={`params.${p}`}>
              {p}
            </option>
          ))}
        </optgroup>
        <optgroup label="Metrics">
          {props.data.metrics.map(m => (
            <option key={`m${m}`} value={`metrics.${m}`}>
              {m}
            </option>
          ))}
        </optgroup>
      </select>
    </label>
  );
}

/** A plotly parcoords dimension for one field: numbers as they are, text as categories. */
function dimension(runs: IRunRow[], field: string): PlotData {
  const values = runs.map(r => valueOf(r, field));
  const label = field.replace(/^(params|metrics)\./, '');
  if (values.every(v => v === undefined || typeof v === 'number')) {
    return { label, values: values.map(v => (v === undefined ? NaN : v)) };
  }
  const categories = [...new Set(values.map(v => (v === undefined ? '(none)' : String(v))))].sort();
  return {
    label,
    values: values.map(v => categories.indexOf(v === undefined ? '(none)' : String(v))),
    tickvals: categories.map((_, i) => i),
    ticktext: categories
  };
}

function Parallel(props: { data: ICompareData }): JSX.Element {
  const { data } = props;
  const varying = data.params.filter(p => differs(data.runs.map(r => r.params[p])));
  const [params, setParams] = React.useState<string[]>(
    (varying.length ? varying : data.params).slice(0, 6)
  );
  const [metric, setMetric] = React.useState(data.metrics[0] ?? '');
  const plot = React.useMemo(() => {
    const dims = params.map(p => dimension(data.runs, `params.${p}`));
    const colors = metric ? data.runs.map(r => r.metrics[metric] ?? NaN) : [];
    if (metric) {
      dims.push(dimension(data.runs, `metrics.${metric}`));
    }
    const trace: PlotData = {
      type: 'parcoords',
      dimensions: dims,
      line: metric
        ? {
            color: colors,
            colorscale: 'Viridis',
            showscale: true,
            colorbar: { title: { text: metric } }
          }
        : { color: COLORWAY[0] }
    };
    return [trace];
  }, [params, metric, data]);
  const layout = React.useMemo(() => ({ margin: { l: 60, r: 60, t: 60, b: 30 } }), []);
  if (!data.params.length && !data.metrics.length) {
    return <Note>These runs logged no params or metrics.</Note>;
  }
  return (
    <div>
      <div className="jp-mltrack-ChartControls jp-mltrack-ParamPicker">
        <span>params:</span>
        {data.params.map(p => (
          <label key={p}>
            <input
              type="checkbox"
              checked={params.includes(p)}
              onChange={e =>
                setParams(e.target.checked ? [...params, p] : params.filter(x => x !== p))
              }
            />{' '}
            {p}
          </label>
        ))}
        <label>
          colour by metric{' '}
          <select
            className="jp-mltrack-Select"
            value={metric}
            onChange={e => setMetric(e.target.value)}
          >
            <option value="">(none)</option>
            {data.metrics.map(m => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Chart data={plot} layout={layout} height={420} className="jp-mltrack-Parallel" />
    </div>
  );
}

function Scatter(props: { data: ICompareData }): JSX.Element {
  const { data } = props;
  const fields = [...data.params.map(p => `params.${p}`), ...data.metrics.map(m => `metrics.${m}`)];
  const [x, setX] = React.useState(fields[0] ?? '');
  const [y, setY] = React.useState(
    data.metrics.length ? `metrics.${data.metrics[0]}` : (fields[1] ?? '')
  );
  const plot = React.useMemo((): PlotData[] => {
    const xs = data.runs.map(r => valueOf(r, x) ?? null);
    const ys = data.runs.map(r => valueOf(r, y) ?? null);
    return [
      {
        type: 'scatter',
        mode: 'markers',
        x: xs,
        y: ys,
        text: data.runs.map(runLabel),
        marker: {
          size: 9,
          color: data.runs.map((_, i) => COLORWAY[i % COLORWAY.length]),
          line: { width: 0 }
        },
        hovertemplate: '%{text}<br>x %{x}<br>y %{y}<extra></extra>'
      }
    ];
  }, [x, y, data]);
  const layout = React.useMemo(
    () => ({
      xaxis: { title: { text: x } },
      yaxis: { title: { text: y } },
      showlegend: false
    }),
    [x, y]
  );
  if (!fields.length) {
    return <Note>These runs logged no params or metrics.</Note>;
  }
  return (
    <div>
      <div className="jp-mltrack-ChartControls">
        <FieldSelect data={data} value={x} onChange={setX} label="x" />
        <FieldSelect data={data} value={y} onChange={setY} label="y" />
      </div>
      <Chart data={plot} layout={layout} height={420} className="jp-mltrack-Scatter" />
    </div>
  );
}

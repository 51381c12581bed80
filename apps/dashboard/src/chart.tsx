import uPlot from 'uplot';
import { useEffect, useRef } from 'preact/hooks';

export interface ChartProps {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  y: number[];
  /** Ticks only at whole numbers (rounds). */
  integerX?: boolean;
  /** Formats an x value for the axis and the legend. */
  formatX: (x: number) => string;
}

/** A uPlot line chart of y against x (x ascending), redrawn when the data change and resized with its box. */
export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const format = useRef(props.formatX);
  format.current = props.formatX;

  useEffect(() => {
    const element = box.current!;
    const width = () => Math.max(240, element.clientWidth);
    const options: uPlot.Options = {
      title: props.title,
      width: width(),
      height: 240,
      scales: { x: { time: false }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max)] } },
      axes: [
        { label: props.xLabel, values: (_u, ticks) => ticks.map((t) => format.current(t)), ...(props.integerX ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] } : {}) },
        { label: props.yLabel, values: (_u, ticks) => ticks.map((t) => `${Math.round(t * 100)} %`) },
      ],
      series: [
        { label: props.xLabel, value: (_u, v) => (v === null ? '—' : format.current(v)) },
        { label: props.yLabel, stroke: '#2563eb', width: 2, points: { show: true, size: 7, fill: '#2563eb' }, value: (_u, v) => (v === null ? '—' : `${(v * 100).toFixed(1)} %`) },
      ],
    };
    plot.current = new uPlot(options, [props.x, props.y], element);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 240 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData([props.x, props.y]);
  }, [props.x.join(','), props.y.join(',')]);

  return <div class="chart" id={props.id} data-points={props.x.length} ref={box} />;
}

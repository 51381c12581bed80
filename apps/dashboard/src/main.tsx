import 'uplot/dist/uPlot.min.css';
import './dashboard.css';
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { io, type Socket } from 'socket.io-client';
// The coordinator's socket.io parser (socket.io's wire format, more binary attachments allowed): browser-safe.
import { federationParser } from '../../../libs/protocol/src/socket-parser';
import { download, fetchBlob, initialToken, storeToken } from './auth';
import { Chart } from './chart';
import { applyEvent, chartSeries, metricOf, type DashboardClient, type DashboardModel, type DashboardRound, type DashboardSnapshot, type FederationEvent } from './state';

type Connection = { kind: 'connecting' } | { kind: 'live' } | { kind: 'lost'; message: string } | { kind: 'refused'; message: string };

const PHASES = ['generateMs', 'openMs', 'collectMs', 'aggregateMs', 'trainMs', 'evaluateMs', 'publishMs'] as const;
const PHASE_NAMES: Record<string, string> = { generateMs: 'generate', openMs: 'open', collectMs: 'collect', aggregateMs: 'aggregate', trainMs: 'train', evaluateMs: 'evaluate', publishMs: 'publish' };
const EVENT_LOG = 30;

function App() {
  const [token, setToken] = useState<string | null>(() => initialToken());
  const [connection, setConnection] = useState<Connection>({ kind: 'connecting' });
  const [snapshot, setSnapshot] = useState<DashboardSnapshot | null>(null);
  const [log, setLog] = useState<FederationEvent[]>([]);
  const socket = useRef<Socket | null>(null);

  useEffect(() => {
    const s = io('/dashboard', { auth: { token: token ?? '' }, transports: ['websocket'], parser: federationParser, reconnectionDelayMax: 5_000 });
    socket.current = s;
    setConnection({ kind: 'connecting' });
    s.on('connect', () => setConnection({ kind: 'live' }));
    s.on('connect_error', (error: Error) => {
      // A refusal by the namespace's check is final (socket.io does not retry it); anything else is retried.
      if (/^UNAUTHENTICATED/.test(error.message)) setConnection({ kind: 'refused', message: error.message.replace(/^UNAUTHENTICATED: /, '') });
      else setConnection({ kind: 'lost', message: error.message });
    });
    s.on('disconnect', (reason: string) => setConnection({ kind: 'lost', message: reason }));
    s.on('snapshot', (next: DashboardSnapshot) => setSnapshot(next));
    s.on('event', (event: FederationEvent) => {
      setSnapshot((current) => (current ? applyEvent(current, event) : current));
      setLog((current) => [event, ...current].slice(0, EVENT_LOG));
    });
    return () => {
      s.removeAllListeners();
      s.disconnect();
    };
  }, [token]);

  const useToken = (next: string) => {
    storeToken(next || null);
    setSnapshot(null);
    setToken(next || null);
  };

  return (
    <div class="page">
      <header>
        <h1>fedkd federation</h1>
        <ConnectionBadge connection={connection} />
      </header>
      {connection.kind === 'refused' && (
        <div class="error" role="alert" id="dashboard-error">
          <strong>The coordinator refused this dashboard:</strong> {connection.message}
        </div>
      )}
      {connection.kind === 'refused' && <TokenForm onToken={useToken} hasToken={!!token} />}
      {snapshot ? <Federation snapshot={snapshot} token={token} log={log} /> : connection.kind !== 'refused' && <p class="loading">Waiting for the coordinator…</p>}
    </div>
  );
}

function ConnectionBadge({ connection }: { connection: Connection }) {
  const text = { connecting: 'connecting…', live: 'live', lost: `reconnecting (${'message' in connection ? connection.message : ''})`, refused: 'refused' }[connection.kind];
  return (
    <span class={`badge badge-${connection.kind}`} id="connection-state">
      {text}
    </span>
  );
}

function TokenForm({ onToken, hasToken }: { onToken: (token: string) => void; hasToken: boolean }) {
  const [value, setValue] = useState('');
  return (
    <form
      class="token-form"
      onSubmit={(e) => {
        e.preventDefault();
        onToken(value.trim());
      }}
    >
      <label>
        {hasToken ? 'Another read token: ' : 'Read token (unless the coordinator runs with --public-read): '}
        <input type="password" autocomplete="off" placeholder="fedkd_read_…" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Use token</button>
      <span class="hint">kept in this tab only (sessionStorage); or open /dashboard#token=…</span>
    </form>
  );
}

function Federation({ snapshot, token, log }: { snapshot: DashboardSnapshot; token: string | null; log: FederationEvent[] }) {
  const f = snapshot.federation;
  const metricName = f.metric === 'testAccuracy' ? 'test accuracy' : 'agreement';
  const latest = [...snapshot.rounds].reverse().find((r) => r.state === 'published' && metricOf(snapshot, r) !== null);
  const series = useMemo(() => chartSeries(snapshot), [snapshot]);
  const synthetic = snapshot.rounds.filter((r) => r.proxyKind === 'synthetic' && r.state === 'published');
  const [samplesRound, setSamplesRound] = useState<number | null>(null);
  const shownSamples = samplesRound ?? synthetic[synthetic.length - 1]?.number ?? null;
  return (
    <main>
      <section class="cards" id="overview">
        <Card title="Task" value={f.task.name} detail={`${f.task.classes} classes · ${f.task.source}`} />
        <Card title="Proxy" value={f.proxy.kind === 'synthetic' ? `synthetic (${f.proxy.generator})` : 'public'} detail={`${f.proxy.size} inputs per round`} />
        <Card title="Clients" id="clients-count" value={`${f.connected} connected`} detail={`${f.enrolled} enrolled · ${f.known} known · ${f.minClients} needed per round`} />
        <Card
          title="Round"
          id="current-round"
          value={f.currentRound ? `round ${f.currentRound.number}: ${f.currentRound.phase}` : 'idle'}
          detail={`${f.roundsTotal} round${f.roundsTotal === 1 ? '' : 's'} so far`}
        />
        <Card
          title={`Student ${metricName}`}
          id="latest-accuracy"
          value={latest ? percent(metricOf(snapshot, latest)) : '—'}
          detail={latest ? `round ${latest.number}, model v${latest.modelVersion ?? '?'}` : 'no published round yet'}
        />
      </section>

      <section class="charts">
        <Chart id="chart-rounds" integerX title={`Student ${metricName} by round`} xLabel="round" yLabel={metricName} x={series.rounds} y={series.values} formatX={(x) => String(Math.round(x * 100) / 100)} />
        <Chart id="chart-bytes" title={`Student ${metricName} by bytes sent (up + down)`} xLabel="MB" yLabel={metricName} x={series.megabytes} y={series.values} formatX={(x) => x.toFixed(x < 10 ? 2 : 1)} />
      </section>

      <section>
        <h2>Rounds</h2>
        <p class="phase-key">
          {PHASES.map((p) => (
            <span key={p}>
              <span class={`phase phase-${p}`} /> {PHASE_NAMES[p]}
            </span>
          ))}
        </p>
        <Timeline snapshot={snapshot} onSamples={setSamplesRound} />
      </section>

      {f.proxy.kind === 'synthetic' || synthetic.length > 0 ? (
        <section>
          <h2>Synthetic inputs</h2>
          {shownSamples !== null ? <Samples round={shownSamples} token={token} /> : <p class="muted">No synthetic round published yet.</p>}
        </section>
      ) : null}

      <section>
        <h2>Clients</h2>
        <Clients clients={snapshot.clients} />
        {Object.keys(f.refusals).length > 0 && <p class="muted">Refused messages since the coordinator started: {refusalText(f.refusals)}</p>}
      </section>

      <section>
        <h2>Model versions</h2>
        <Models models={snapshot.models} metricName={metricName} metric={f.metric} token={token} />
      </section>

      <section>
        <h2>Recent events</h2>
        <ul class="events" id="events">
          {log.map((e, i) => (
            <li key={`${e.at}-${i}`}>
              <time>{new Date(e.at).toLocaleTimeString()}</time> {describe(e)}
            </li>
          ))}
          {log.length === 0 && <li class="muted">none since this page opened</li>}
        </ul>
      </section>
    </main>
  );
}

function Card({ title, value, detail, id }: { title: string; value: string; detail: string; id?: string }) {
  return (
    <div class="card" id={id}>
      <div class="card-title">{title}</div>
      <div class="card-value">{value}</div>
      <div class="card-detail">{detail}</div>
    </div>
  );
}

function Timeline({ snapshot, onSamples }: { snapshot: DashboardSnapshot; onSamples: (round: number) => void }) {
  const rounds = [...snapshot.rounds].reverse();
  const longest = Math.max(1, ...rounds.map((r) => PHASES.reduce((sum, p) => sum + (r.timings[p] ?? 0), 0)));
  const samples = rounds.some((r) => r.proxyKind === 'synthetic');
  if (rounds.length === 0) return <p class="muted">No round yet.</p>;
  return (
    <table class="data" id="rounds">
      <thead>
        <tr>
          <th>round</th>
          <th>state</th>
          <th>{snapshot.federation.metric === 'testAccuracy' ? 'accuracy' : 'agreement'}</th>
          <th>answered</th>
          <th>bytes up / down</th>
          <th>phases</th>
          {samples && <th>samples</th>}
        </tr>
      </thead>
      <tbody>
        {rounds.map((r) => (
          <tr key={r.number} data-round={r.number} data-state={r.state} class={`state-${r.state}`}>
            <td>{r.number}</td>
            <td title={r.reason ?? undefined}>
              {r.state}
              {r.reason ? <div class="reason">{r.reason}</div> : null}
            </td>
            <td class="metric">{percent(metricOf(snapshot, r))}</td>
            <td>{r.answered === null ? '—' : `${r.answered} / ${r.invited ?? '?'}`}</td>
            <td>
              {bytes(r.bytesUp)} / {bytes(r.bytesDown)}
            </td>
            <td>
              <PhaseBar round={r} longest={longest} />
            </td>
            {samples && <td>{r.proxyKind === 'synthetic' && r.state === 'published' ? <button onClick={() => onSamples(r.number)}>show</button> : ''}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function PhaseBar({ round, longest }: { round: DashboardRound; longest: number }) {
  const phases = PHASES.filter((p) => (round.timings[p] ?? 0) > 0);
  if (phases.length === 0) return <span class="muted">{round.closedAt === null ? 'running…' : '—'}</span>;
  return (
    <div class="phases">
      <div class="phase-bar">
        {phases.map((p) => (
          <span key={p} class={`phase phase-${p}`} style={{ width: `${(100 * round.timings[p]) / longest}%` }} title={`${PHASE_NAMES[p]} ${duration(round.timings[p])}`} />
        ))}
      </div>
      <div class="phase-text">
        {phases.map((p) => `${PHASE_NAMES[p]} ${duration(round.timings[p])}`).join(' · ')}
        {round.timings.roundMs !== undefined ? ` — total ${duration(round.timings.roundMs)}` : ''}
      </div>
    </div>
  );
}

function Samples({ round, token }: { round: number; token: string | null }) {
  const [state, setState] = useState<{ url: string } | { error: string } | null>(null);
  useEffect(() => {
    let url: string | null = null;
    let cancelled = false;
    setState(null);
    fetchBlob(`/rounds/${round}/samples.png`, token)
      .then((blob) => {
        if (cancelled) return;
        url = URL.createObjectURL(blob);
        setState({ url });
      })
      .catch((error: Error) => !cancelled && setState({ error: error.message }));
    return () => {
      cancelled = true;
      if (url) URL.revokeObjectURL(url);
    };
  }, [round, token]);
  return (
    <figure class="samples" id="samples" data-round={round}>
      {state === null && <p class="muted">Drawing round {round}'s inputs…</p>}
      {state && 'url' in state && <img src={state.url} alt={`the synthetic inputs of round ${round}`} />}
      {state && 'error' in state && <p class="muted">Round {round} has no picture: {state.error}</p>}
      <figcaption>Round {round}: the synthetic inputs the clients were asked about (one row per class when the generator has classes).</figcaption>
    </figure>
  );
}

function Clients({ clients }: { clients: DashboardClient[] }) {
  if (clients.length === 0) return <p class="muted">No client has said hello yet.</p>;
  return (
    <table class="data" id="clients">
      <thead>
        <tr>
          <th>client</th>
          <th>connected</th>
          <th>last answer</th>
          <th>refusals</th>
          <th>last problem</th>
          <th>epsilon spent</th>
          <th>budget</th>
        </tr>
      </thead>
      <tbody>
        {clients.map((c) => (
          <tr key={c.id} data-client={c.name} data-connected={String(c.connected)}>
            <td>
              <span class="name">{c.name}</span>
              <div class="muted small">
                {c.id}
                {c.status === 'revoked' ? ' · revoked' : ''}
                {c.enrolled ? '' : ' · not enrolled'}
              </div>
            </td>
            <td>{c.connected ? <span class="dot on">● yes</span> : <span class="dot off">○ no</span>}</td>
            <td>{c.lastAnswer ? `round ${c.lastAnswer.round}, ${ago(c.lastAnswer.at)}` : '—'}</td>
            <td>{Object.keys(c.refusals).length ? refusalText(c.refusals) : '—'}</td>
            <td>{c.lastProblem ? `round ${c.lastProblem.round}: ${c.lastProblem.status}${c.lastProblem.reason ? ` (${c.lastProblem.reason})` : ''}` : '—'}</td>
            <td>{c.epsilon === null ? '—' : `${c.epsilon.toFixed(2)} over ${c.privateRounds} private round${c.privateRounds === 1 ? '' : 's'}`}</td>
            <td>{c.budget ?? <span class="muted">not shared</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Models({ models, metricName, metric, token }: { models: DashboardModel[]; metricName: string; metric: 'testAccuracy' | 'agreement'; token: string | null }) {
  const [problem, setProblem] = useState<string | null>(null);
  if (models.length === 0) return <p class="muted">No model published yet.</p>;
  const link = (version: number, file: string, label: string, filename: string) => {
    const url = file ? `/models/${version}/${file}` : `/models/${version}`;
    return (
      <a
        href={url}
        download={filename}
        class="download"
        data-version={version}
        data-file={file || 'blob'}
        onClick={(e) => {
          // A plain link cannot send the token: fetch with it and save the bytes.
          e.preventDefault();
          setProblem(null);
          download(url, filename, token).catch((error: Error) => setProblem(`${label} of v${version}: ${error.message}`));
        }}
      >
        {label}
      </a>
    );
  };
  return (
    <>
      {problem && (
        <p class="error" role="alert">
          Download failed: {problem}
        </p>
      )}
      <table class="data" id="models">
        <thead>
          <tr>
            <th>version</th>
            <th>round</th>
            <th>{metricName}</th>
            <th>size</th>
            <th>sha256</th>
            <th>download</th>
          </tr>
        </thead>
        <tbody>
          {models.map((m) => (
            <tr key={m.version} data-version={m.version}>
              <td>v{m.version}</td>
              <td>{m.round}</td>
              <td>{percent(metric === 'testAccuracy' ? m.testAccuracy : m.agreement)}</td>
              <td>{bytes(m.byteLength)}</td>
              <td>
                <code title={m.sha256}>{m.sha256.slice(0, 12)}…</code>
              </td>
              <td class="downloads">
                {link(m.version, 'model.json', 'model.json', `fedkd-student-v${m.version}-model.json`)}
                {link(m.version, 'weights.bin', 'weights.bin', 'weights.bin')}
                {link(m.version, 'signature.json', 'signature.json', `fedkd-student-v${m.version}-signature.json`)}
                {link(m.version, '', 'fedkd blob', `fedkd-student-v${m.version}.fkdw`)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted small">TF.js: model.json names weights.bin beside it; signature.json holds every file's SHA-256 signed by the coordinator.</p>
    </>
  );
}

function describe(e: FederationEvent): string {
  switch (e.type) {
    case 'round.phase':
      return `round ${e.round}: ${e.phase}${e.reason ? ` (${e.reason})` : ''}`;
    case 'round.answers':
      return `round ${e.round}: ${e.outcomes.filter((o) => o.status === 'answered').length} of ${e.invited} answered, ${bytes(e.outcomes.reduce((s, o) => s + o.bytesUploaded, 0))} up`;
    case 'round.ended':
      return `round ${e.round} ${e.state}${e.modelVersion !== null ? `: model v${e.modelVersion}` : ''}${e.testAccuracy !== null ? `, test accuracy ${percent(e.testAccuracy)}` : e.agreement !== null ? `, agreement ${percent(e.agreement)}` : ''}${e.reason ? ` (${e.reason})` : ''}`;
    case 'client.connected':
      return `${e.name} connected (${e.connected} connected)`;
    case 'client.disconnected':
      return `${e.name} left: ${e.reason} (${e.connected} connected)`;
    case 'message.refused':
      return `refused ${e.event} from ${e.clientName}: ${e.code}`;
  }
}

function refusalText(refusals: Record<string, number>): string {
  return Object.entries(refusals)
    .map(([code, n]) => `${code} × ${n}`)
    .join(', ');
}

function percent(value: number | null): string {
  return value === null ? '—' : `${(value * 100).toFixed(1)} %`;
}

function bytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(2)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function ago(at: number): string {
  const s = Math.max(0, Math.round((Date.now() - at) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return new Date(at).toLocaleString();
}

const root = document.getElementById('app')!;
// The static "Loading…" placeholder goes: preact renders into an empty container.
root.replaceChildren();
render(<App />, root);

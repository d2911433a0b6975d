/**
 * Runs a training-step graph (`onnx-simclr-graph.ts`, `onnx-classifier-graph.ts`) on
 * onnxruntime: the state (weights, optimiser moments, running statistics) lives here as
 * plain arrays between steps, goes in under its names and comes back as `new/NAME`.
 *
 * Determinism: onnxruntime's CPU kernels give the same result for the same graph, inputs and
 * intra-op thread count; a resumed run must use the thread count it started with, so the
 * trainers record it.
 */
import type * as ort from 'onnxruntime-node';
import { onnxTensor } from './onnx-runtime.js';
import { openOnnxSession, type OnnxProviderRequest } from './onnx-session.js';
import type { StepGraph, TrainMemory } from './onnx-simclr-graph.js';

/** Where and how a training graph runs. */
export interface OnnxTrainDevice {
  /** `auto` takes CUDA when its provider is installed, else the CPU; `cuda` fails without it. */
  device: OnnxProviderRequest;
  /** Intra-op threads on the CPU (results depend on it; record it with the run). */
  threads: number;
  /**
   * SimCLR: `fast` (default) or `low` (`TrainMemory`, `onnx-simclr-graph.ts`); `low` also runs
   * the session without onnxruntime's CPU arena.
   */
  memory?: TrainMemory;
}

/**
 * One opened step graph.
 *
 * @example
 *   const step = await TrainStepSession.open(simclrStepGraph(layout, 256, o), { device: 'cpu', threads: 2 }, 'SimCLR step');
 *   const out = await step.run(state, { views: [viewData, [512, 32, 32, 3]] });
 */
export class TrainStepSession {
  readonly provider: 'cuda' | 'cpu';
  private readonly session: ort.InferenceSession;
  private readonly graph: StepGraph;

  private constructor(session: ort.InferenceSession, provider: 'cuda' | 'cpu', graph: StepGraph) {
    this.session = session;
    this.provider = provider;
    this.graph = graph;
  }

  /** Opens the graph on the requested device. */
  static async open(graph: StepGraph, where: OnnxTrainDevice, name: string): Promise<TrainStepSession> {
    // --memory low: no arena either (each tensor malloc'ed and freed; `low-memory-env.ts`)
    const tuning = { memPattern: false, ...(where.memory === 'low' ? { arena: false } : {}) };
    const { session, provider } = await openOnnxSession(graph.bytes, where.device, where.threads, name, tuning);
    return new TrainStepSession(session, provider, graph);
  }

  /**
   * One step: feeds `state` (every name of the graph's `state` and `reads`) and `extra`
   * ([data, dims] by input name), replaces each state array with its `new/` output, returns
   * the other outputs.
   */
  async run(state: Map<string, Float32Array>, extra: Record<string, [Float32Array, number[]]>): Promise<Record<string, Float32Array>> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const s of [...this.graph.state, ...(this.graph.reads ?? [])]) {
      const values = state.get(s.name);
      if (!values) throw new Error(`training state has no ${s.name}`);
      feeds[s.name] = onnxTensor('float32', values, s.shape);
    }
    for (const [name, [data, dims]] of Object.entries(extra)) feeds[name] = onnxTensor('float32', data, dims);
    const out = await this.session.run(feeds);
    const rest: Record<string, Float32Array> = {};
    for (const [name, tensor] of Object.entries(out)) {
      const data = tensor.data as Float32Array;
      if (name.startsWith('new/')) state.set(name.slice(4), data);
      else rest[name] = data;
    }
    return rest;
  }

  /** Frees the session. */
  async close(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The step session of the batch size in use: a step graph has static shapes, so a new batch
 * size (an epoch's shorter last batch) needs its own session; the previous one is closed
 * first, so only one session's activations are ever held.
 *
 * @example
 *   const sessions = new StepSessions(where);
 *   const step = await sessions.get(n, () => simclrStepGraph(layout, n, o), `SimCLR step (batch ${n})`);
 */
export class StepSessions {
  private readonly where: OnnxTrainDevice;
  private current: { n: number; session: Promise<TrainStepSession> } | undefined;

  constructor(where: OnnxTrainDevice) {
    this.where = where;
  }

  /** The session for batch size `n`, opening it (from `graph()`) when the size changed. */
  async get(n: number, graph: () => StepGraph, name: string): Promise<TrainStepSession> {
    if (this.current?.n !== n) {
      await this.close();
      const session = TrainStepSession.open(graph(), this.where, name);
      this.current = { n, session };
      session.catch(() => {
        if (this.current?.session === session) this.current = undefined;
      });
    }
    return this.current.session;
  }

  /** Frees the open session, if any. */
  async close(): Promise<void> {
    const open = this.current;
    this.current = undefined;
    if (open) await (await open.session.catch(() => undefined))?.close();
  }
}

/**
 * Worker-thread entry of `FlowBankPool`: holds the flows of the classes this worker owns (as
 * a `FlowBank` of those classes only, renumbered 0..m-1) on its own TensorFlow.js backend, and
 * trains them on the rows the main thread sends, in the order sent. Every message gets one
 * reply with the same id: `{ id }`, `{ id, state }` or `{ id, error }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, type BackendName } from './backend.js';
import { FlowBank, type FlowBankState } from './flow-bank.js';

/** What the main thread starts the worker with. */
export interface FlowWorkerData {
  backend: BackendName;
  /** The owned classes' state, renumbered 0..m-1. */
  state: FlowBankState;
}

/** Requests, answered in order. */
export type FlowWorkerRequest =
  | { id: number; op: 'update'; features: Float32Array; labels: Int32Array }
  | { id: number; op: 'endEpoch' }
  | { id: number; op: 'state' };

const port = parentPort!;
const data = workerData as FlowWorkerData;
await initBackend(data.backend);
const bank = FlowBank.fromState(data.state);

port.on('message', (m: FlowWorkerRequest) => {
  try {
    if (m.op === 'update') {
      bank.update(m.features, m.labels);
      port.postMessage({ id: m.id });
    } else if (m.op === 'endEpoch') {
      bank.endEpoch();
      port.postMessage({ id: m.id });
    } else {
      port.postMessage({ id: m.id, state: bank.getState() });
    }
  } catch (err) {
    port.postMessage({ id: m.id, error: String((err as Error)?.stack ?? err) });
  }
});
port.postMessage({ ready: true });

/**
 * The two engines the final classifier trains on, behind one interface: `onnx`
 * (`OnnxClassifier`, the default) and `tfjs` (`Classifier`). Both start from the same seeded
 * weights and save the same `classifier` model directory, so either continues the other's
 * checkpoint and `loadClassifier` predicts with either's model.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Classifier, loadClassifier, saveClassifier, type StepResult } from './classifier.js';
import { OnnxClassifier, type ClassifierConfig } from './onnx-classifier.js';
import { readModel, writeModel } from './save.js';
import type { OnnxProviderRequest } from './onnx-session.js';

/** One classifier trainer, whichever engine. */
export interface ClassifierEngine {
  /** `onnx-cpu (2 threads)`, `tfjs-wasm`, ... once known. */
  describe(): string;
  /** One SGD step on n normalised NHWC images (the caller keeps `images`). */
  step(images: Float32Array, labels: number[], lr: number): Promise<StepResult>;
  resetMomentum(): void;
  /** Saves the whole classifier (weights, statistics, momentum) with `extra` in its manifest. */
  save(dir: string, extra?: unknown): Promise<void>;
  close(): Promise<void>;
}

/**
 * An engine for `config`, fresh or continuing the classifier saved in `savedDir`.
 *
 * @example
 *   const engine = await openClassifierEngine(config, null, { runtime: 'onnx', device: 'auto', threads: 2 });
 */
export async function openClassifierEngine(
  config: ClassifierConfig,
  savedDir: string | null,
  o: { runtime: 'onnx' | 'tfjs'; device: OnnxProviderRequest; threads: number },
): Promise<ClassifierEngine> {
  if (o.runtime === 'onnx') {
    const saved = savedDir ? await readModel(savedDir, 'classifier') : null;
    const clf = await OnnxClassifier.create(saved ? (saved.manifest.config as ClassifierConfig) : config, saved?.arrays ?? null, { device: o.device, threads: o.threads });
    return {
      describe: () => `onnx-${clf.provider ?? o.device} (${o.threads} threads)`,
      step: (images, labels, lr) => clf.step(images, labels, lr),
      resetMomentum: () => clf.resetMomentum(),
      save: (dir, extra) => writeModel(dir, 'classifier', clf.config, null, clf.arrays(), extra),
      close: () => clf.close(),
    };
  }
  const clf = savedDir ? await loadClassifier(savedDir) : new Classifier(config);
  const size = clf.options.imageSize;
  return {
    describe: () => `tfjs-${tf.getBackend()}`,
    async step(images, labels, lr) {
      const x = tf.tensor4d(images, [labels.length, size, size, 3]);
      try {
        return clf.step(x, labels, lr);
      } finally {
        x.dispose();
      }
    },
    resetMomentum: () => clf.resetMomentum(),
    save: (dir, extra) => saveClassifier(clf, dir, extra),
    close: async () => clf.dispose(),
  };
}

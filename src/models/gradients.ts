/**
 * Registers the gradient functions of every TensorFlow.js op. `@tensorflow/tfjs-core`'s Node
 * entry point does not (the umbrella package does, into the registry all copies share), so
 * anything that calls `tf.grad`, `tf.variableGrads` or an optimiser imports this module first.
 *
 * @example
 *   import './gradients.js';
 */
import '@tensorflow/tfjs';

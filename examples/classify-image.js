#!/usr/bin/env node
// Classifies one image with a fedkd student exported as a TF.js LayersModel, using only stock
// packages (@tensorflow/tfjs and sharp), as any application would:
//
//   node examples/classify-image.js MODEL IMAGE [TASK]
//
// MODEL: http(s)://HOST/models/N/model.json (the coordinator serves it) or a folder holding
// model.json and weights.bin (`fedkd export`). IMAGE: a PNG or JPEG. TASK (optional): the task
// file, for the class names (default 0..9). The image is made greyscale and 28x28 and divided by
// 255, as the embedded digits' task says; change `toInput` for other tasks. The coordinator's
// REST API needs a read token (`fedkd admin token create --scope read`): put it in FEDKD_TOKEN.
const fs = require('node:fs');
const path = require('node:path');
const tf = require('@tensorflow/tfjs');
const sharp = require('sharp');

async function loadModel(where) {
  if (/^https?:\/\//.test(where)) {
    const headers = process.env.FEDKD_TOKEN ? { Authorization: `Bearer ${process.env.FEDKD_TOKEN}` } : {};
    return tf.loadLayersModel(tf.io.http(where, { requestInit: { headers } }));
  }
  const json = JSON.parse(fs.readFileSync(path.join(where, 'model.json'), 'utf8'));
  const weights = fs.readFileSync(path.join(where, 'weights.bin'));
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData }));
}

async function toInput(image, [height, width]) {
  const { data } = await sharp(image).greyscale().resize(width, height, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  return tf.tensor(Float32Array.from(data, (v) => v / 255), [1, height, width, 1]);
}

async function main() {
  const [where, image, taskFile] = process.argv.slice(2);
  if (!where || !image) throw new Error('usage: node examples/classify-image.js MODEL IMAGE [TASK]');
  const classes = taskFile ? require('yaml').parse(fs.readFileSync(taskFile, 'utf8')).classes : Array.from({ length: 10 }, (_, i) => String(i));
  const model = await loadModel(where);
  const [, height, width] = model.inputs[0].shape;
  const input = await toInput(image, [height, width]);
  const probabilities = Array.from(model.predict(input).dataSync());
  const best = probabilities.indexOf(Math.max(...probabilities));
  console.log(`${path.basename(image)}: ${classes[best]} (p = ${probabilities[best].toFixed(3)})`);
}

main().catch((error) => {
  console.error(`classify-image: ${error.message}`);
  process.exit(1);
});

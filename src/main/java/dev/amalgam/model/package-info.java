/**
 * Models: finding a recipe's model paths on disk, opening a Hugging Face model directory
 * (config.json, one safetensors file or shards with their index, every header validated up
 * front), and inferring its layer structure — pre-layer, per-layer and post-layer weights — from
 * tensor names and config.json, with no per-architecture table.
 */
package dev.amalgam.model;

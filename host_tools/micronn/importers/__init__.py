"""Importers turn a trained model file into a FloatNetwork (or a quantized Model)."""

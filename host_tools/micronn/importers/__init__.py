"""Importers turn a trained model into a FloatGraph (micronn.graph), or a quantized Model."""

"""The two denoising networks and what Model.predict runs around them: pieces and tiles,
the ensemble of orientations, the blend toward the input, the colour check, the strength."""

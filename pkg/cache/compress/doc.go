// Package compress compresses cache values with hard caps on input size,
// output size and compression ratio.
//
// A [Compressor] writes one marker byte naming the algorithm in front of
// every value it encodes, and [Compressor.Decode] reads the algorithm from
// that marker, not from its own Options. Switching algorithms, or turning
// compression off, therefore never makes previously stored values
// undecodable. Values below Options.Threshold, and values that compression
// would not shrink, are stored raw behind the marker for "none".
//
// Decode treats its input as hostile: it decompresses as a stream into a
// buffer that never grows past Options.MaxOutputBytes, and rejects output
// whose size exceeds Options.MaxRatio times the compressed size, so a
// decompression bomb costs at most a bounded allocation and returns an error.
//
// A Compressor is safe for concurrent use. It reuses encoders and decoders
// through pools, starts no goroutines and holds nothing that needs closing.
package compress

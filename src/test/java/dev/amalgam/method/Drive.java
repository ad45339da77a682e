package dev.amalgam.method;

/**
 * Test support: drives a {@link TensorMerge} over whole in-memory operands the way the executor
 * does (measuring passes, then the applying pass, chunk by chunk in index order, chunks rounded
 * to whole rows when the merge asks for it).
 */
final class Drive {

    private Drive() {
    }

    static float[] run(TensorMerge m, float[][] operands, int chunk, long rowLength) {
        int numel = operands[0].length;
        int size = Math.min(chunk, Math.max(1, numel));
        if (m.rowAligned()) {
            long row = Math.max(1, rowLength);
            size = (int) Math.max(row, size / row * row);
        }
        float[][] in = new float[operands.length][size];
        float[] out = new float[numel];
        float[] buf = new float[size];
        for (int pass = 0; pass <= m.measuringPasses(); pass++) {
            boolean apply = pass == m.measuringPasses();
            for (int off = 0; off < numel; off += size) {
                int len = Math.min(size, numel - off);
                for (int k = 0; k < operands.length; k++) {
                    System.arraycopy(operands[k], off, in[k], 0, len);
                }
                if (apply) {
                    m.apply(in, len, off, buf);
                    System.arraycopy(buf, 0, out, off, len);
                } else {
                    m.measure(pass, in, len, off);
                }
            }
            if (!apply) {
                m.endPass(pass);
            }
        }
        return out;
    }
}

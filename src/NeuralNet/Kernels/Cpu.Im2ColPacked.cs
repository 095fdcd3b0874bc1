using System.Runtime.Intrinsics;

namespace NeuralNet.Kernels;

// im2col written straight into the GEMM's packed B layout, for a convolution's inference forward pass: y = W·cols where
// cols (C·KH·KW × OH·OW) is only ever read by that product. The plain path writes cols and the GEMM then copies it again
// into panels; here the panels are written directly and the GEMM (GemmPackedB) reads them. Same panels, same micro-kernel,
// so the result is bit-identical to Gemm(W, Im2Col(x)). Training keeps the plain layout: its backward pass needs
// dy·colsᵀ, which reads cols the other way.
internal static partial class Cpu
{
    /// <summary>The column width of the packed panels on the running CPU (the micro-kernel's NR: 32 with AVX-512, else 16).</summary>
    internal static int PackedPanelWidth => GemmNR;

    /// <summary>
    /// Whether <see cref="Im2ColPacked"/> + <see cref="GemmPackedB"/> replace <c>Gemm(W, Im2Col(x))</c> for a product of
    /// <paramref name="rows"/> output channels, k = <paramref name="k"/> and OH×OW outputs: float on a vector machine, one
    /// KC block of k and one NC block of n, a shape the GEMM would pack (not its row path), and the layout
    /// <see cref="Im2ColPacked"/> takes. The product then skips its own packing of the columns, and writing the packed
    /// layout costs about what the plain im2col costs.
    /// </summary>
    internal static bool CanUsePackedIm2Col(int rows, int k, int outH, int outW, int stride, int padding) =>
        Vector256.IsHardwareAccelerated && k <= GemmKC && outH * outW <= GemmNC && rows > GemmSmallRows && k > GemmRowsMaxK
        && IsPackedIm2ColLayout(stride, padding, outW);

    /// <summary>
    /// The layouts <see cref="Im2ColPacked"/> takes: stride 1, no padding, and OW dividing the panel width, so that every
    /// output row is one copy of an input row's slice inside one panel. A general version (runs cut at panel edges, any
    /// stride and padding) is slower than the plain im2col it would replace, so there is none.
    /// </summary>
    private static bool IsPackedIm2ColLayout(int stride, int padding, int outW) =>
        stride == 1 && padding == 0 && outW <= GemmNR && GemmNR % outW == 0;

    /// <summary>Floats of the packed column matrix: whole panels of <see cref="PackedPanelWidth"/> columns, k rows each.</summary>
    internal static int PackedIm2ColLength(int k, int spatial) => (spatial + GemmNR - 1) / GemmNR * GemmNR * k;

    /// <summary>
    /// im2col of one image into the packed B layout: panel q holds, for each row r = (c, kh, kw), the values of columns
    /// q·NR … q·NR + NR − 1 (column = (oh, ow)); zero past the last column. Stride 1 and no padding, with OW dividing the
    /// panel width (<see cref="CanUsePackedIm2Col"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A size is out of range, a span is too short, or the layout is not one of those.</exception>
    public static unsafe void Im2ColPacked(Span<float> packed, ReadOnlySpan<float> x, int channels, int height, int width,
        int kernelH, int kernelW, int stride, int padding, int outH, int outW)
    {
        ValidateIm2Col(nameof(Im2ColPacked), int.MaxValue, x.Length, channels, height, width, kernelH, kernelW, stride, padding, outH, outW);
        if (!IsPackedIm2ColLayout(stride, padding, outW))
            throw new ArgumentException($"{nameof(Im2ColPacked)}: takes stride 1, no padding and an output width dividing " +
                $"{GemmNR}, got stride {stride}, padding {padding}, output width {outW}.");
        int k = channels * kernelH * kernelW, spatial = outH * outW, nr = GemmNR, panelMask = nr - 1;
        int length = PackedIm2ColLength(k, spatial);
        if (packed.Length < length)
            throw new ArgumentException($"{nameof(Im2ColPacked)}: needs {length} packed elements, got {packed.Length}.", nameof(packed));
        bool vectors = Vector256.IsHardwareAccelerated;
        fixed (float* dst = packed, src = x)
        {
            // The columns past the last output of the last panel are zero in every row.
            int full = spatial / nr * nr;
            if (full < spatial)
                for (int r = 0; r < k; r++)
                    new Span<float>(dst + (nint)full * k + (nint)r * nr + (spatial - full), nr - (spatial - full)).Clear();

            // Every output row is one run inside one panel (LeNet conv2: 8 of them per 32-wide panel), read straight from
            // one input row: one short copy per (row, output row). Output row oh starts at column s = oh·OW, which lies in
            // panel s / NR at offset s mod NR (NR is a power of two: masks, no division).
            for (int c = 0; c < channels; c++)
            for (int kh = 0; kh < kernelH; kh++)
            for (int kw = 0; kw < kernelW; kw++)
            {
                float* d = dst + (nint)((c * kernelH + kh) * kernelW + kw) * nr;
                float* row = src + ((nint)c * height + kh) * width + kw;
                for (int oh = 0, s = 0; oh < outH; oh++, s += outW, row += width)
                    CopyElements(ref d[(nint)(s & ~panelMask) * k + (s & panelMask)], ref row[0], outW, vectors);
            }
        }
    }

    /// <summary>
    /// C (m×n) = A (m×k, row-major, stride <paramref name="lda"/>) · B, with B given already packed by
    /// <see cref="Im2ColPacked"/> (k ≤ 256, n ≤ 1024); on the calling thread. Bit-identical to <see cref="Gemm{T}"/> on the
    /// unpacked B.
    /// </summary>
    /// <exception cref="ArgumentException">A size is out of range or a span is too short.</exception>
    public static unsafe void GemmPackedB(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> packedB,
        Span<float> c, int ldc)
    {
        if (m <= 0 || n <= 0 || k <= 0 || k > GemmKC || n > GemmNC || lda < k || ldc < n)
            throw new ArgumentException($"{nameof(GemmPackedB)}: need 0 < k ≤ {GemmKC}, 0 < n ≤ {GemmNC}, lda ≥ k and ldc ≥ n, " +
                $"got m={m}, n={n}, k={k}, lda={lda}, ldc={ldc}.");
        if (a.Length < (long)(m - 1) * lda + k || c.Length < (long)(m - 1) * ldc + n || packedB.Length < PackedIm2ColLength(k, n))
            throw new ArgumentException($"{nameof(GemmPackedB)}: a ({a.Length}), c ({c.Length}) or the packed B " +
                $"({packedB.Length}, needs {PackedIm2ColLength(k, n)}) is too short for m={m}, n={n}, k={k}.");
        fixed (float* pa = a, pb = packedB, pc = c)
        {
            if (Vector512.IsHardwareAccelerated)
                GemmFloatBlocked<GemmFloat512>(false, false, m, n, k, pa, lda, pb, 0, pc, ldc, false, bPacked: true);
            else
                GemmFloatBlocked<GemmFloat256>(false, false, m, n, k, pa, lda, pb, 0, pc, ldc, false, bPacked: true);
        }
    }
}

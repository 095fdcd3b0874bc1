using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NeuralNet.Kernels;

// im2col written straight into the GEMM's packed B layout, for a convolution's inference forward pass: y = W·cols where
// cols (C·KH·KW × OH·OW) is only ever read by that product. The plain path writes cols and the GEMM then copies it again
// into panels; here the panels are written directly and the GEMM (GemmPackedB) reads them. Same panels, same micro-kernel,
// so the result is bit-identical to Gemm(W, Im2Col(x)). Training keeps the plain layout: its backward pass needs
// dy·colsᵀ, which reads cols the other way.
internal static partial class Kernels
{
    /// <summary>The column width of the packed panels on this machine (the micro-kernel's NR: 32 with AVX-512, else 16).</summary>
    internal static int PackedPanelWidth => GemmNR;

    /// <summary>
    /// Whether <see cref="Im2ColPacked"/> + <see cref="GemmPackedB"/> replace <c>Gemm(W, Im2Col(x))</c> for a product of
    /// <paramref name="rows"/> output channels, k = <paramref name="k"/> and OH×OW outputs: float on a vector machine, one
    /// KC block of k and one NC block of n, a shape the GEMM would pack (not its row path), and the layout where the packed
    /// im2col is a plain copy per output row (stride 1, no padding, OW dividing the panel width). Measured on LeNet-5's
    /// conv2 per image: the product 7–10 → 5.8 µs without its packing, the packed im2col about as fast as the plain one.
    /// The general packed im2col (any stride and padding) cuts its runs at panel edges and measured 16 µs against 10: not
    /// used.
    /// </summary>
    internal static bool CanUsePackedIm2Col(int rows, int k, int outH, int outW, int stride, int padding) =>
        Vector256.IsHardwareAccelerated && k <= GemmKC && outH * outW <= GemmNC && rows > GemmSmallRows && k > GemmRowsMaxK
        && stride == 1 && padding == 0 && outW <= GemmNR && GemmNR % outW == 0;

    /// <summary>Floats of the packed column matrix: whole panels of <see cref="PackedPanelWidth"/> columns, k rows each.</summary>
    internal static int PackedIm2ColLength(int k, int spatial) => (spatial + GemmNR - 1) / GemmNR * GemmNR * k;

    /// <summary>
    /// im2col of one image into the packed B layout: panel q holds, for each row r = (c, kh, kw), the values of columns
    /// q·NR … q·NR + NR − 1 (column = (oh, ow)); zero where the window reaches into the padding and past the last column.
    /// </summary>
    /// <exception cref="ArgumentException">A size is out of range or a span is too short.</exception>
    [SkipLocalsInit]
    public static unsafe void Im2ColPacked(Span<float> packed, ReadOnlySpan<float> x, int channels, int height, int width,
        int kernelH, int kernelW, int stride, int padding, int outH, int outW)
    {
        ValidateIm2Col(nameof(Im2ColPacked), int.MaxValue, x.Length, channels, height, width, kernelH, kernelW, stride, padding, outH, outW);
        int k = channels * kernelH * kernelW, spatial = outH * outW, nr = GemmNR, panelMask = nr - 1;
        int length = PackedIm2ColLength(k, spatial);
        if (packed.Length < length)
            throw new ArgumentException($"{nameof(Im2ColPacked)}: needs {length} packed elements, got {packed.Length}.", nameof(packed));
        bool vectors = Vector256.IsHardwareAccelerated;
        fixed (float* dst = packed, src = x)
        {
            // The columns past the last output of the last panel are zero in every row.
            int full = spatial / nr * nr;
            if (full < spatial || spatial == 0)
                for (int r = 0; r < k; r++)
                    new Span<float>(dst + (nint)full * k + (nint)r * nr + (spatial - full), nr - (spatial - full)).Clear();

            if (stride == 1 && padding == 0 && outW <= nr && nr % outW == 0)
            {
                // Every output row is one run inside one panel (LeNet conv2: 8 of them per 32-wide panel), read straight
                // from one input row: a table of where each output row starts, then one short copy per (row, output row).
                int* rowStart = stackalloc int[outH];
                for (int oh = 0; oh < outH; oh++)
                {
                    int s0 = oh * outW;
                    rowStart[oh] = (s0 & ~panelMask) * k + (s0 & panelMask);
                }
                for (int c = 0; c < channels; c++)
                for (int kh = 0; kh < kernelH; kh++)
                for (int kw = 0; kw < kernelW; kw++)
                {
                    float* d = dst + (nint)((c * kernelH + kh) * kernelW + kw) * nr;
                    float* row = src + ((nint)c * height + kh) * width + kw;
                    for (int oh = 0; oh < outH; oh++, row += width)
                        CopyElements(ref d[rowStart[oh]], ref row[0], outW, vectors);
                }
                return;
            }

            for (int c = 0; c < channels; c++)
            for (int kh = 0; kh < kernelH; kh++)
            for (int kw = 0; kw < kernelW; kw++)
            {
                int r = (c * kernelH + kh) * kernelW + kw;
                int iw0 = kw - padding;
                (int owStart, int owEnd) = InsideColumns(iw0, stride, width, outW);
                for (int oh = 0; oh < outH; oh++)
                {
                    int ih = oh * stride - padding + kh;
                    bool rowInside = (uint)ih < (uint)height;
                    float* row = src + ((nint)c * height + ih) * width;
                    // Columns s = oh·OW + ow, cut where they cross into the next panel.
                    for (int ow = 0; ow < outW;)
                    {
                        int s = oh * outW + ow, inPanel = s & panelMask;   // nr is a power of two: no division
                        int run = Math.Min(outW - ow, nr - inPanel);
                        float* d = dst + (nint)(s - inPanel) * k + (nint)r * nr + inPanel;
                        int a = rowInside ? Math.Clamp(owStart - ow, 0, run) : run;         // leading zeros
                        int b = rowInside ? Math.Clamp(owEnd - ow, a, run) : run;           // end of the inside part
                        for (int j = 0; j < a; j++) d[j] = 0f;
                        if (b > a)
                        {
                            if (stride == 1)
                                CopyElements(ref d[a], ref row[ow + a + iw0], b - a, vectors);
                            else
                                for (int j = a, iw = (ow + a) * stride + iw0; j < b; j++, iw += stride) d[j] = row[iw];
                        }
                        for (int j = b; j < run; j++) d[j] = 0f;
                        ow += run;
                    }
                }
            }
        }
    }

    /// <summary>
    /// C (m×n) = A (m×k, row-major, stride <paramref name="lda"/>) · B, with B given already packed by
    /// <see cref="Im2ColPacked"/> (k ≤ 256, n ≤ 1024); on the calling thread. Bit-identical to <see cref="Gemm{T}"/> on the
    /// unpacked B.
    /// </summary>
    /// <exception cref="ArgumentException">A size is out of range or a span is too short.</exception>
    [SkipLocalsInit]
    public static unsafe void GemmPackedB(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> packedB,
        Span<float> c, int ldc)
    {
        if (m <= 0 || n <= 0 || k <= 0 || k > GemmKC || n > GemmNC || lda < k || ldc < n)
            throw new ArgumentException($"{nameof(GemmPackedB)}: need 0 < k ≤ {GemmKC}, 0 < n ≤ {GemmNC}, lda ≥ k and ldc ≥ n, " +
                $"got m={m}, n={n}, k={k}, lda={lda}, ldc={ldc}.");
        if (a.Length < (long)(m - 1) * lda + k || c.Length < (long)(m - 1) * ldc + n || packedB.Length < PackedIm2ColLength(k, n))
            throw new ArgumentException($"{nameof(GemmPackedB)}: a ({a.Length}), c ({c.Length}) or the packed B " +
                $"({packedB.Length}, needs {PackedIm2ColLength(k, n)}) is too short for m={m}, n={n}, k={k}.");
        float* tile = stackalloc float[12 * 32 + 16];
        tile = (float*)(((nint)tile + 63) & ~(nint)63);
        float* packA = GetPackBuffer(ref t_gemmPackA, GemmMC * GemmKC);
        bool packAPanels = n > GemmUnpackedAMaxColumns;   // as GemmFloatBlocked decides for a row-major A
        fixed (float* pa = a, pb = packedB, pc = c)
        {
            for (int ic = 0; ic < m; ic += GemmMC)
            {
                int mc = Math.Min(GemmMC, m - ic);
                if (Vector512.IsHardwareAccelerated)
                    GemmFloatBlock<GemmFloat512>(false, pa, lda, pc, ldc, ic, mc, 0, n, 0, k, false, packAPanels, false, packA, pb, tile);
                else
                    GemmFloatBlock<GemmFloat256>(false, pa, lda, pc, ldc, ic, mc, 0, n, 0, k, false, packAPanels, false, packA, pb, tile);
            }
        }
    }
}

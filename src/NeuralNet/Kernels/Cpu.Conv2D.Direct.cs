using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NeuralNet.Kernels;

// Direct convolution of a single-channel image (stride 1, no padding): the first layer of an MNIST network (LeNet-5's
// conv 6@5×5, the small CNN's conv 8@3×3). With one input channel, im2col copies every pixel KH·KW times into a matrix
// several times larger than the image, and the GEMM then packs that matrix again, for a product of only KH·KW
// multiply-adds per output. Here the image is read in place instead.
//
// The trick that makes it one vectorized loop: number the outputs t = oh·W + ow, on the input's row pitch W rather than
// OW. Then output t reads x[t + off(kh, kw)] with off = kh·W + kw for every t, a contiguous 1-D correlation over
// t ∈ [0, (OH − 1)·W + OW). Positions with ow ≥ OW (W − OW per row, 4 of 28 in LeNet) are computed and dropped.
//
// Forward computes each output as one FMA chain over (kh, kw) in order, from zero: the same arithmetic as W·im2col(x) on
// the GEMM paths for KH·KW ≤ GemmKC, so the result is bit-identical to im2col + GEMM (tested). The weight gradient sums
// over the outputs in a different order than dy·colsᵀ does, so it agrees with it to rounding, not bit for bit.
internal static partial class Cpu
{
    /// <summary>
    /// y (OC, OH, OW) = w (OC, KH·KW) ⋆ x (H, W) for one single-channel image, stride 1, no padding, no bias;
    /// OH = H − KH + 1, OW = W − KW + 1. Bit-identical to <c>Gemm(W, Im2Col(x))</c> when KH·KW ≤ 256.
    /// </summary>
    /// <param name="y">The output planes, at least OC·OH·OW elements.</param>
    /// <param name="x">The image, at least H·W elements.</param>
    /// <param name="w">The filters, at least OC·KH·KW elements.</param>
    /// <param name="scratch">Work space of at least <see cref="Conv2DSingleChannelScratchLength"/> elements.</param>
    /// <param name="outChannels">OC.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernelH">KH, at most H.</param>
    /// <param name="kernelW">KW, at most W.</param>
    /// <exception cref="ArgumentException">A size is out of range or a span is too short.</exception>
    [SkipLocalsInit]
    public static unsafe void Conv2DSingleChannel(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> scratch,
        int outChannels, int height, int width, int kernelH, int kernelW)
    {
        ValidateSingleChannel(nameof(Conv2DSingleChannel), y.Length, "output", x.Length, w.Length, scratch.Length,
            outChannels, height, width, kernelH, kernelW);
        int outH = height - kernelH + 1, outW = width - kernelW + 1, taps = kernelH * kernelW;
        int span = (outH - 1) * width + outW;
        int* offsets = stackalloc int[taps];
        for (int kh = 0, p = 0; kh < kernelH; kh++)
            for (int kw = 0; kw < kernelW; kw++, p++) offsets[p] = kh * width + kw;

        bool vectors = Vector256.IsHardwareAccelerated;
        fixed (float* py = y, px = x, pw = w, ps = scratch)
        {
            // Four output channels at a time (the last group repeats its last channel), each into a row of the scratch.
            for (int o0 = 0; o0 < outChannels; o0 += 4)
            {
                int last = outChannels - 1;
                float* w0 = pw + o0 * taps, w1 = pw + Math.Min(o0 + 1, last) * taps;
                float* w2 = pw + Math.Min(o0 + 2, last) * taps, w3 = pw + Math.Min(o0 + 3, last) * taps;
                float* s0 = ps, s1 = ps + span, s2 = ps + 2 * span, s3 = ps + 3 * span;
                int t = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    // 4 channels × 64 positions per pass: 16 independent FMA chains, 4 loads of x and 4 broadcasts per tap.
                    for (; t <= span - 64; t += 64)
                        DirectForwardPass64(px + t, offsets, taps, w0, w1, w2, w3, s0 + t, s1 + t, s2 + t, s3 + t);
                    // Then 16 positions at a time; the last chunk is moved back to end at span, recomputing a few outputs
                    // with the same arithmetic.
                    while (t < span && span >= 16)
                    {
                        if (t > span - 16) t = span - 16;
                        DirectForwardPass16(px + t, offsets, taps, w0, w1, w2, w3, s0 + t, s1 + t, s2 + t, s3 + t);
                        t += 16;
                    }
                }
                else if (Vector256.IsHardwareAccelerated)
                {
                    // AVX2: 4 channels × 16 positions per pass (8 ymm chains; 16 registers leave no room for more), the
                    // last pass moved back to end at span.
                    while (t < span && span >= 16)
                    {
                        if (t > span - 16) t = span - 16;
                        DirectForwardPass16x256(px + t, offsets, taps, w0, w1, w2, w3, s0 + t, s1 + t, s2 + t, s3 + t);
                        t += 16;
                    }
                }
                for (; t < span; t++)
                {
                    float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
                    for (int p = 0; p < taps; p++)
                    {
                        float xv = px[t + offsets[p]];
                        a0 = MathF.FusedMultiplyAdd(w0[p], xv, a0);
                        a1 = MathF.FusedMultiplyAdd(w1[p], xv, a1);
                        a2 = MathF.FusedMultiplyAdd(w2[p], xv, a2);
                        a3 = MathF.FusedMultiplyAdd(w3[p], xv, a3);
                    }
                    s0[t] = a0; s1[t] = a1; s2[t] = a2; s3[t] = a3;
                }

                // Keep the first OW of every W positions.
                for (int g = 0; g < 4 && o0 + g < outChannels; g++)
                {
                    float* src = ps + g * span, dst = py + (o0 + g) * outH * outW;
                    for (int oh = 0; oh < outH; oh++)
                        CopyElements(ref dst[oh * outW], ref src[oh * width], outW, vectors);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void DirectForwardPass64(float* x, int* offsets, int taps, float* w0, float* w1, float* w2, float* w3,
        float* s0, float* s1, float* s2, float* s3)
    {
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        for (int p = 0; p < taps; p++)
        {
            float* xp = x + offsets[p];
            Vector512<float> x0 = Vector512.Load(xp), x1 = Vector512.Load(xp + 16);
            Vector512<float> x2 = Vector512.Load(xp + 32), x3 = Vector512.Load(xp + 48);
            Vector512<float> v = Vector512.Create(w0[p]);
            a00 = Vector512.FusedMultiplyAdd(v, x0, a00); a01 = Vector512.FusedMultiplyAdd(v, x1, a01);
            a02 = Vector512.FusedMultiplyAdd(v, x2, a02); a03 = Vector512.FusedMultiplyAdd(v, x3, a03);
            v = Vector512.Create(w1[p]);
            a10 = Vector512.FusedMultiplyAdd(v, x0, a10); a11 = Vector512.FusedMultiplyAdd(v, x1, a11);
            a12 = Vector512.FusedMultiplyAdd(v, x2, a12); a13 = Vector512.FusedMultiplyAdd(v, x3, a13);
            v = Vector512.Create(w2[p]);
            a20 = Vector512.FusedMultiplyAdd(v, x0, a20); a21 = Vector512.FusedMultiplyAdd(v, x1, a21);
            a22 = Vector512.FusedMultiplyAdd(v, x2, a22); a23 = Vector512.FusedMultiplyAdd(v, x3, a23);
            v = Vector512.Create(w3[p]);
            a30 = Vector512.FusedMultiplyAdd(v, x0, a30); a31 = Vector512.FusedMultiplyAdd(v, x1, a31);
            a32 = Vector512.FusedMultiplyAdd(v, x2, a32); a33 = Vector512.FusedMultiplyAdd(v, x3, a33);
        }
        a00.Store(s0); a01.Store(s0 + 16); a02.Store(s0 + 32); a03.Store(s0 + 48);
        a10.Store(s1); a11.Store(s1 + 16); a12.Store(s1 + 32); a13.Store(s1 + 48);
        a20.Store(s2); a21.Store(s2 + 16); a22.Store(s2 + 32); a23.Store(s2 + 48);
        a30.Store(s3); a31.Store(s3 + 16); a32.Store(s3 + 32); a33.Store(s3 + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void DirectForwardPass16x256(float* x, int* offsets, int taps, float* w0, float* w1, float* w2, float* w3,
        float* s0, float* s1, float* s2, float* s3)
    {
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default;
        Vector256<float> a20 = default, a21 = default, a30 = default, a31 = default;
        for (int p = 0; p < taps; p++)
        {
            float* xp = x + offsets[p];
            Vector256<float> x0 = Vector256.Load(xp), x1 = Vector256.Load(xp + 8);
            Vector256<float> v = Vector256.Create(w0[p]);
            a00 = Vector256.FusedMultiplyAdd(v, x0, a00); a01 = Vector256.FusedMultiplyAdd(v, x1, a01);
            v = Vector256.Create(w1[p]);
            a10 = Vector256.FusedMultiplyAdd(v, x0, a10); a11 = Vector256.FusedMultiplyAdd(v, x1, a11);
            v = Vector256.Create(w2[p]);
            a20 = Vector256.FusedMultiplyAdd(v, x0, a20); a21 = Vector256.FusedMultiplyAdd(v, x1, a21);
            v = Vector256.Create(w3[p]);
            a30 = Vector256.FusedMultiplyAdd(v, x0, a30); a31 = Vector256.FusedMultiplyAdd(v, x1, a31);
        }
        a00.Store(s0); a01.Store(s0 + 8); a10.Store(s1); a11.Store(s1 + 8);
        a20.Store(s2); a21.Store(s2 + 8); a30.Store(s3); a31.Store(s3 + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void DirectForwardPass16(float* x, int* offsets, int taps, float* w0, float* w1, float* w2, float* w3,
        float* s0, float* s1, float* s2, float* s3)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int p = 0; p < taps; p++)
        {
            Vector512<float> xv = Vector512.Load(x + offsets[p]);
            a0 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[p]), xv, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Create(w1[p]), xv, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Create(w2[p]), xv, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Create(w3[p]), xv, a3);
        }
        a0.Store(s0); a1.Store(s1); a2.Store(s2); a3.Store(s3);
    }

    /// <summary>
    /// The weight gradient of <see cref="Conv2DSingleChannel"/> for one image: dW[o, kh, kw] (+)= Σ_{oh, ow}
    /// dy[o, oh, ow] · x[oh + kh, ow + kw]. Sums in its own order (16- or 8-wide partial sums by vector width), so it
    /// matches dy·im2col(x)ᵀ to rounding, not bit for bit.
    /// </summary>
    /// <param name="dW">The filters' gradient (OC, KH·KW): overwritten, or added to when <paramref name="accumulate"/>.</param>
    /// <param name="dy">The output gradient (OC, OH, OW).</param>
    /// <param name="x">The image (H, W).</param>
    /// <param name="scratch">Work space of at least <see cref="Conv2DSingleChannelScratchLength"/> elements.</param>
    /// <param name="outChannels">OC.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernelH">KH, at most H.</param>
    /// <param name="kernelW">KW, at most W.</param>
    /// <param name="accumulate">Add to dW instead of overwriting it.</param>
    /// <exception cref="ArgumentException">A size is out of range or a span is too short.</exception>
    [SkipLocalsInit]
    public static unsafe void Conv2DSingleChannelWeightGradient(Span<float> dW, ReadOnlySpan<float> dy, ReadOnlySpan<float> x,
        Span<float> scratch, int outChannels, int height, int width, int kernelH, int kernelW, bool accumulate)
    {
        ValidateSingleChannel(nameof(Conv2DSingleChannelWeightGradient), dy.Length, "output gradient", x.Length, dW.Length,
            scratch.Length, outChannels, height, width, kernelH, kernelW);
        int outH = height - kernelH + 1, outW = width - kernelW + 1, taps = kernelH * kernelW;
        int span = (outH - 1) * width + outW;
        bool vectors = Vector256.IsHardwareAccelerated;
        fixed (float* pdW = dW, pdy = dy, px = x, ps = scratch)
        {
            // dy on the input's row pitch, zero at the dropped positions ow ≥ OW, so that output t pairs with x[t + off].
            for (int o = 0; o < outChannels; o++)
            {
                float* src = pdy + o * outH * outW, dst = ps + o * span;
                for (int oh = 0; oh < outH; oh++)
                {
                    CopyElements(ref dst[oh * width], ref src[oh * outW], outW, vectors);
                    for (int ow = outW; ow < width && oh < outH - 1; ow++) dst[oh * width + ow] = 0f;
                }
            }

            int* offsets = stackalloc int[taps];
            for (int kh = 0, p = 0; kh < kernelH; kh++)
                for (int kw = 0; kw < kernelW; kw++, p++) offsets[p] = kh * width + kw;

            // Blocks of 2 channels × 4 taps (the last block of each repeats its last one): 8 sums, each over t.
            for (int o0 = 0; o0 < outChannels; o0 += 2)
            for (int p0 = 0; p0 < taps; p0 += 4)
            {
                float* d0 = ps + o0 * span, d1 = ps + Math.Min(o0 + 1, outChannels - 1) * span;
                float* x0 = px + offsets[p0], x1 = px + offsets[Math.Min(p0 + 1, taps - 1)];
                float* x2 = px + offsets[Math.Min(p0 + 2, taps - 1)], x3 = px + offsets[Math.Min(p0 + 3, taps - 1)];
                float s00 = 0f, s01 = 0f, s02 = 0f, s03 = 0f, s10 = 0f, s11 = 0f, s12 = 0f, s13 = 0f;
                int t = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
                    Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
                    for (; t <= span - 16; t += 16)
                    {
                        Vector512<float> e0 = Vector512.Load(d0 + t), e1 = Vector512.Load(d1 + t);
                        Vector512<float> v = Vector512.Load(x0 + t);
                        a00 = Vector512.FusedMultiplyAdd(e0, v, a00); a10 = Vector512.FusedMultiplyAdd(e1, v, a10);
                        v = Vector512.Load(x1 + t);
                        a01 = Vector512.FusedMultiplyAdd(e0, v, a01); a11 = Vector512.FusedMultiplyAdd(e1, v, a11);
                        v = Vector512.Load(x2 + t);
                        a02 = Vector512.FusedMultiplyAdd(e0, v, a02); a12 = Vector512.FusedMultiplyAdd(e1, v, a12);
                        v = Vector512.Load(x3 + t);
                        a03 = Vector512.FusedMultiplyAdd(e0, v, a03); a13 = Vector512.FusedMultiplyAdd(e1, v, a13);
                    }
                    s00 = Vector512.Sum(a00); s01 = Vector512.Sum(a01); s02 = Vector512.Sum(a02); s03 = Vector512.Sum(a03);
                    s10 = Vector512.Sum(a10); s11 = Vector512.Sum(a11); s12 = Vector512.Sum(a12); s13 = Vector512.Sum(a13);
                }
                else if (Vector256.IsHardwareAccelerated)
                {
                    Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
                    Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
                    for (; t <= span - 8; t += 8)
                    {
                        Vector256<float> e0 = Vector256.Load(d0 + t), e1 = Vector256.Load(d1 + t);
                        Vector256<float> v = Vector256.Load(x0 + t);
                        a00 = Vector256.FusedMultiplyAdd(e0, v, a00); a10 = Vector256.FusedMultiplyAdd(e1, v, a10);
                        v = Vector256.Load(x1 + t);
                        a01 = Vector256.FusedMultiplyAdd(e0, v, a01); a11 = Vector256.FusedMultiplyAdd(e1, v, a11);
                        v = Vector256.Load(x2 + t);
                        a02 = Vector256.FusedMultiplyAdd(e0, v, a02); a12 = Vector256.FusedMultiplyAdd(e1, v, a12);
                        v = Vector256.Load(x3 + t);
                        a03 = Vector256.FusedMultiplyAdd(e0, v, a03); a13 = Vector256.FusedMultiplyAdd(e1, v, a13);
                    }
                    s00 = Vector256.Sum(a00); s01 = Vector256.Sum(a01); s02 = Vector256.Sum(a02); s03 = Vector256.Sum(a03);
                    s10 = Vector256.Sum(a10); s11 = Vector256.Sum(a11); s12 = Vector256.Sum(a12); s13 = Vector256.Sum(a13);
                }
                for (; t < span; t++)
                {
                    float e0 = d0[t], e1 = d1[t];
                    s00 = MathF.FusedMultiplyAdd(e0, x0[t], s00); s10 = MathF.FusedMultiplyAdd(e1, x0[t], s10);
                    s01 = MathF.FusedMultiplyAdd(e0, x1[t], s01); s11 = MathF.FusedMultiplyAdd(e1, x1[t], s11);
                    s02 = MathF.FusedMultiplyAdd(e0, x2[t], s02); s12 = MathF.FusedMultiplyAdd(e1, x2[t], s12);
                    s03 = MathF.FusedMultiplyAdd(e0, x3[t], s03); s13 = MathF.FusedMultiplyAdd(e1, x3[t], s13);
                }

                int taken = Math.Min(4, taps - p0);
                StoreGradient(pdW + o0 * taps + p0, taken, accumulate, s00, s01, s02, s03);
                if (o0 + 1 < outChannels) StoreGradient(pdW + (o0 + 1) * taps + p0, taken, accumulate, s10, s11, s12, s13);
            }
        }
    }

    private static unsafe void StoreGradient(float* g, int count, bool accumulate, float s0, float s1, float s2, float s3)
    {
        g[0] = accumulate ? g[0] + s0 : s0;
        if (count > 1) g[1] = accumulate ? g[1] + s1 : s1;
        if (count > 2) g[2] = accumulate ? g[2] + s2 : s2;
        if (count > 3) g[3] = accumulate ? g[3] + s3 : s3;
    }

    /// <summary>
    /// The work space <see cref="Conv2DSingleChannel"/> and <see cref="Conv2DSingleChannelWeightGradient"/> need: one
    /// row of (OH − 1)·W + OW positions for each output channel, and for at least four.
    /// </summary>
    public static int Conv2DSingleChannelScratchLength(int outChannels, int height, int width, int kernelH, int kernelW) =>
        checked(Math.Max(4, outChannels) * ((height - kernelH) * width + width - kernelW + 1));

    /// <summary>The largest KH·KW the direct kernels take (Conv2D uses them up to 256).</summary>
    private const int MaxDirectTaps = 4096;

    private static void ValidateSingleChannel(string kernel, int outputLength, string outputName, int imageLength, int weightLength,
        int scratchLength, int outChannels, int height, int width, int kernelH, int kernelW)
    {
        if (outChannels <= 0 || kernelH <= 0 || kernelW <= 0 || kernelH > height || kernelW > width)
            throw new ArgumentException($"{kernel}: need OC ≥ 1 and a kernel that fits the image, got OC={outChannels}, " +
                $"kernel {kernelH}×{kernelW}, image {height}×{width}.");
        if ((long)kernelH * kernelW > MaxDirectTaps)
            throw new ArgumentException($"{kernel}: at most {MaxDirectTaps} kernel taps (the tap offsets live on the stack), " +
                $"got a {kernelH}×{kernelW} kernel.");
        long outputs = (long)outChannels * (height - kernelH + 1) * (width - kernelW + 1);
        long weights = (long)outChannels * kernelH * kernelW, image = (long)height * width;
        long scratch = Conv2DSingleChannelScratchLength(outChannels, height, width, kernelH, kernelW);
        if (outputLength < outputs || imageLength < image || weightLength < weights || scratchLength < scratch)
            throw new ArgumentException($"{kernel}: needs {outputs} {outputName}, {image} image, {weights} weight and {scratch} " +
                $"scratch elements, got {outputLength}, {imageLength}, {weightLength} and {scratchLength}.");
    }
}

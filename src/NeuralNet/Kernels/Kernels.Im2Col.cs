using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Kernels;

internal static partial class Kernels
{
    /// <summary>
    /// im2col for one image: x (C, H, W) → cols (C·KH·KW, OH·OW), row r = (c, kh, kw), column = (oh, ow); zero where the
    /// window reaches into the padding. OH = (H + 2·pad − KH)/stride + 1, likewise OW. Same result as
    /// <see cref="Im2ColNaive{T}"/>.
    /// </summary>
    /// <remarks>
    /// With stride 1 every (row, oh) segment of cols is a contiguous slice of one input row plus zero borders, so it is
    /// a block copy; other strides gather with the bounds hoisted out of the inner loop.
    /// </remarks>
    /// <exception cref="ArgumentException">A size is not positive, OH/OW disagree with the input, or a span is too short.</exception>
    public static void Im2Col<T>(Span<T> cols, ReadOnlySpan<T> x, int channels, int height, int width,
        int kernelH, int kernelW, int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ValidateIm2Col(nameof(Im2Col), cols.Length, x.Length, channels, height, width, kernelH, kernelW, stride, padding, outH, outW);
        int outSize = outH * outW;
        for (int c = 0; c < channels; c++)
        for (int kh = 0; kh < kernelH; kh++)
        for (int kw = 0; kw < kernelW; kw++)
        {
            int row = (c * kernelH + kh) * kernelW + kw;
            Span<T> dstRow = cols.Slice(row * outSize, outSize);
            int iw0 = kw - padding;
            // Output columns whose input column iw = ow·stride + iw0 lies inside [0, W).
            int owStart = iw0 >= 0 ? 0 : (-iw0 + stride - 1) / stride;
            int owEnd = Math.Min(outW, width - iw0 <= 0 ? 0 : (width - 1 - iw0) / stride + 1);
            if (owEnd < owStart) owEnd = owStart;
            for (int oh = 0; oh < outH; oh++)
            {
                Span<T> dst = dstRow.Slice(oh * outW, outW);
                int ih = oh * stride - padding + kh;
                if ((uint)ih >= (uint)height)
                {
                    dst.Clear();
                    continue;
                }
                ReadOnlySpan<T> src = x.Slice((c * height + ih) * width, width);
                dst[..owStart].Clear();
                if (stride == 1)
                {
                    src.Slice(owStart + iw0, owEnd - owStart).CopyTo(dst[owStart..]);
                }
                else
                {
                    for (int ow = owStart, iw = owStart * stride + iw0; ow < owEnd; ow++, iw += stride) dst[ow] = src[iw];
                }
                dst[owEnd..].Clear();
            }
        }
    }

    /// <summary>
    /// col2im for one image, the adjoint of <see cref="Im2Col{T}"/>: ADDS every entry of cols (C·KH·KW, OH·OW) into
    /// dx (C, H, W) at the input position it was read from; padding positions are dropped. Additions happen in the same
    /// order as <see cref="Col2ImNaive{T}"/>, so the result is bit-identical to it.
    /// </summary>
    /// <exception cref="ArgumentException">A size is not positive, OH/OW disagree with the input, or a span is too short.</exception>
    public static void Col2Im<T>(Span<T> dx, ReadOnlySpan<T> cols, int channels, int height, int width,
        int kernelH, int kernelW, int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ValidateIm2Col(nameof(Col2Im), cols.Length, dx.Length, channels, height, width, kernelH, kernelW, stride, padding, outH, outW);
        int outSize = outH * outW;
        for (int c = 0; c < channels; c++)
        for (int kh = 0; kh < kernelH; kh++)
        for (int kw = 0; kw < kernelW; kw++)
        {
            int row = (c * kernelH + kh) * kernelW + kw;
            ReadOnlySpan<T> srcRow = cols.Slice(row * outSize, outSize);
            int iw0 = kw - padding;
            int owStart = iw0 >= 0 ? 0 : (-iw0 + stride - 1) / stride;
            int owEnd = Math.Min(outW, width - iw0 <= 0 ? 0 : (width - 1 - iw0) / stride + 1);
            if (owEnd <= owStart) continue;
            for (int oh = 0; oh < outH; oh++)
            {
                int ih = oh * stride - padding + kh;
                if ((uint)ih >= (uint)height) continue;
                Span<T> dst = dx.Slice((c * height + ih) * width, width);
                ReadOnlySpan<T> src = srcRow.Slice(oh * outW, outW);
                if (stride == 1)
                {
                    Span<T> target = dst.Slice(owStart + iw0, owEnd - owStart);
                    TensorPrimitives.Add(target, src[owStart..owEnd], target);
                }
                else
                {
                    for (int ow = owStart, iw = owStart * stride + iw0; ow < owEnd; ow++, iw += stride) dst[iw] += src[ow];
                }
            }
        }
    }

    private static void ValidateIm2Col(string kernel, int colsLength, int imageLength, int channels, int height, int width,
        int kernelH, int kernelW, int stride, int padding, int outH, int outW)
    {
        if (channels <= 0 || height <= 0 || width <= 0 || kernelH <= 0 || kernelW <= 0 || stride <= 0 || padding < 0)
            throw new ArgumentException($"{kernel}: sizes must be positive (padding ≥ 0), got C={channels}, H={height}, W={width}, " +
                $"kernel {kernelH}×{kernelW}, stride {stride}, padding {padding}.");
        int expectedH = (height + 2 * padding - kernelH) / stride + 1, expectedW = (width + 2 * padding - kernelW) / stride + 1;
        if (height + 2 * padding < kernelH || width + 2 * padding < kernelW || outH != expectedH || outW != expectedW)
            throw new ArgumentException($"{kernel}: a {kernelH}×{kernelW} kernel with stride {stride} and padding {padding} on a " +
                $"{height}×{width} input gives a {expectedH}×{expectedW} output, got {outH}×{outW}.");
        long colsNeeded = (long)channels * kernelH * kernelW * outH * outW, imageNeeded = (long)channels * height * width;
        if (colsLength < colsNeeded || imageLength < imageNeeded)
            throw new ArgumentException($"{kernel}: needs {colsNeeded} column and {imageNeeded} image elements, got {colsLength} and {imageLength}.");
    }
}

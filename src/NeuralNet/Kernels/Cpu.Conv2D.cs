using System.Numerics;

namespace NeuralNet.Kernels;

internal static partial class Cpu
{
    /// <summary>
    /// im2col for one image: x (C, H, W) → cols (C·KH·KW, OH·OW), row r = (c, kh, kw), column = (oh, ow).
    /// Zero where the window reaches into the padding. OH = (H + 2·pad − KH)/stride + 1, likewise OW.
    /// </summary>
    public static void Im2ColNaive<T>(Span<T> cols, ReadOnlySpan<T> x, int channels, int height, int width,
        int kernelH, int kernelW, int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outSize = outH * outW;
        for (int c = 0; c < channels; c++)
        for (int kh = 0; kh < kernelH; kh++)
        for (int kw = 0; kw < kernelW; kw++)
        {
            int row = (c * kernelH + kh) * kernelW + kw;
            for (int oh = 0; oh < outH; oh++)
            {
                int ih = oh * stride - padding + kh;
                for (int ow = 0; ow < outW; ow++)
                {
                    int iw = ow * stride - padding + kw;
                    cols[row * outSize + oh * outW + ow] =
                        (uint)ih < (uint)height && (uint)iw < (uint)width ? x[(c * height + ih) * width + iw] : T.Zero;
                }
            }
        }
    }

    /// <summary>
    /// col2im for one image, the adjoint of <see cref="Im2ColNaive{T}"/>: ADDS every entry of cols (C·KH·KW, OH·OW)
    /// into dx (C, H, W) at the input position it was read from; padding positions are dropped.
    /// </summary>
    public static void Col2ImNaive<T>(Span<T> dx, ReadOnlySpan<T> cols, int channels, int height, int width,
        int kernelH, int kernelW, int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outSize = outH * outW;
        for (int c = 0; c < channels; c++)
        for (int kh = 0; kh < kernelH; kh++)
        for (int kw = 0; kw < kernelW; kw++)
        {
            int row = (c * kernelH + kh) * kernelW + kw;
            for (int oh = 0; oh < outH; oh++)
            {
                int ih = oh * stride - padding + kh;
                if ((uint)ih >= (uint)height) continue;
                for (int ow = 0; ow < outW; ow++)
                {
                    int iw = ow * stride - padding + kw;
                    if ((uint)iw < (uint)width)
                        dx[(c * height + ih) * width + iw] += cols[row * outSize + oh * outW + ow];
                }
            }
        }
    }

    /// <summary>
    /// Reference direct convolution of a batch, NCHW: y (N, OC, OH, OW) = w (OC, C, KH, KW) ⋆ x (N, C, H, W) + bias (OC).
    /// Cross-correlation as in PyTorch; <paramref name="bias"/> may be empty for no bias.
    /// </summary>
    public static void Conv2DForwardNaive<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias,
        int batch, int channels, int height, int width, int outChannels, int kernelH, int kernelW,
        int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int nIdx = 0; nIdx < batch; nIdx++)
        for (int oc = 0; oc < outChannels; oc++)
        for (int oh = 0; oh < outH; oh++)
        for (int ow = 0; ow < outW; ow++)
        {
            T sum = bias.IsEmpty ? T.Zero : bias[oc];
            for (int c = 0; c < channels; c++)
            for (int kh = 0; kh < kernelH; kh++)
            for (int kw = 0; kw < kernelW; kw++)
            {
                int ih = oh * stride - padding + kh, iw = ow * stride - padding + kw;
                if ((uint)ih < (uint)height && (uint)iw < (uint)width)
                    sum += w[((oc * channels + c) * kernelH + kh) * kernelW + kw] * x[((nIdx * channels + c) * height + ih) * width + iw];
            }
            y[((nIdx * outChannels + oc) * outH + oh) * outW + ow] = sum;
        }
    }
}

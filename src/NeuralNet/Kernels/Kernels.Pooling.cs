using System.Numerics;

namespace NeuralNet.Kernels;

internal static partial class Kernels
{
    /// <summary>
    /// Reference max pooling over planes: x (planes, H, W) → y (planes, OH, OW), with OH = (H − K)/stride + 1.
    /// <paramref name="argmax"/> receives, per output, the flat index into x of the maximum (the first one on ties).
    /// </summary>
    public static void MaxPoolForwardNaive<T>(Span<T> y, Span<int> argmax, ReadOnlySpan<T> x, int planes, int height, int width,
        int kernelSize, int stride, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int p = 0; p < planes; p++)
        for (int oh = 0; oh < outH; oh++)
        for (int ow = 0; ow < outW; ow++)
        {
            int best = (p * height + oh * stride) * width + ow * stride;
            T bestValue = x[best];
            for (int kh = 0; kh < kernelSize; kh++)
            for (int kw = 0; kw < kernelSize; kw++)
            {
                int idx = (p * height + oh * stride + kh) * width + ow * stride + kw;
                if (x[idx] > bestValue) { bestValue = x[idx]; best = idx; }
            }
            int o = (p * outH + oh) * outW + ow;
            y[o] = bestValue;
            argmax[o] = best;
        }
    }

    /// <summary>Max-pooling backward: dx is cleared, then each dy is added at its <paramref name="argmax"/> position.</summary>
    public static void MaxPoolBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<int> argmax)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        dx.Clear();
        for (int i = 0; i < dy.Length; i++) dx[argmax[i]] += dy[i];
    }
}

using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Kernels;

// Padded max pooling, average pooling and global average pooling over planes x (planes, H, W). Windows are clipped to
// the image once per output (no per-element padding test): padding counts as −∞ for the maximum and as 0 for the average,
// whose divisor stays K² (PyTorch's count_include_pad=True). Large tensors are split over the kernel threads by whole
// planes, each plane computed in the same order by one part, so results are the same bits for any thread count. Global
// average pooling sums and fills each plane with TensorPrimitives (SIMD).
internal static partial class Cpu
{
    private enum PlaneOp { MaxPadded, AvgForward, AvgBackward, GlobalAvgForward, GlobalAvgBackward }

    /// <summary>Reference padded max pooling: y = max over the window, padding −∞; argmax the flat index into x (first on ties).</summary>
    public static void MaxPoolPaddedForwardNaive<T>(Span<T> y, Span<int> argmax, ReadOnlySpan<T> x, int planes, int height, int width,
        int kernelSize, int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int p = 0; p < planes; p++)
        for (int oh = 0; oh < outH; oh++)
        for (int ow = 0; ow < outW; ow++)
        {
            T best = T.NegativeInfinity;
            int bestIndex = -1;
            for (int kh = 0; kh < kernelSize; kh++)
            for (int kw = 0; kw < kernelSize; kw++)
            {
                int ih = oh * stride - padding + kh, iw = ow * stride - padding + kw;
                if (ih < 0 || ih >= height || iw < 0 || iw >= width) continue;
                int idx = (p * height + ih) * width + iw;
                if (bestIndex < 0 || x[idx] > best) { best = x[idx]; bestIndex = idx; }
            }
            int o = (p * outH + oh) * outW + ow;
            y[o] = best;
            argmax[o] = bestIndex;
        }
    }

    /// <summary>Reference average pooling: y = (Σ over the window, padding 0) / K².</summary>
    public static void AvgPoolForwardNaive<T>(Span<T> y, ReadOnlySpan<T> x, int planes, int height, int width,
        int kernelSize, int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T divisor = T.CreateChecked(kernelSize * kernelSize);
        for (int p = 0; p < planes; p++)
        for (int oh = 0; oh < outH; oh++)
        for (int ow = 0; ow < outW; ow++)
        {
            T sum = T.Zero;
            for (int kh = 0; kh < kernelSize; kh++)
            for (int kw = 0; kw < kernelSize; kw++)
            {
                int ih = oh * stride - padding + kh, iw = ow * stride - padding + kw;
                if (ih >= 0 && ih < height && iw >= 0 && iw < width) sum += x[(p * height + ih) * width + iw];
            }
            y[(p * outH + oh) * outW + ow] = sum / divisor;
        }
    }

    /// <summary>Reference average-pooling backward: dx cleared, then every dy/K² added to each input of its window.</summary>
    public static void AvgPoolBackwardNaive<T>(Span<T> dx, ReadOnlySpan<T> dy, int planes, int height, int width,
        int kernelSize, int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        dx.Clear();
        T divisor = T.CreateChecked(kernelSize * kernelSize);
        for (int p = 0; p < planes; p++)
        for (int oh = 0; oh < outH; oh++)
        for (int ow = 0; ow < outW; ow++)
        {
            T g = dy[(p * outH + oh) * outW + ow] / divisor;
            for (int kh = 0; kh < kernelSize; kh++)
            for (int kw = 0; kw < kernelSize; kw++)
            {
                int ih = oh * stride - padding + kh, iw = ow * stride - padding + kw;
                if (ih >= 0 && ih < height && iw >= 0 && iw < width) dx[(p * height + ih) * width + iw] += g;
            }
        }
    }

    /// <summary>Padded max pooling: the result of <see cref="MaxPoolPaddedForwardNaive{T}"/>, bit for bit.</summary>
    /// <exception cref="ArgumentException">Sizes are inconsistent or a span is too short.</exception>
    public static void MaxPoolPaddedForward<T>(Span<T> y, Span<int> argmax, ReadOnlySpan<T> x, int planes, int height, int width,
        int kernelSize, int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckPool(nameof(MaxPoolPaddedForward), x.Length, y.Length, planes, height, width, kernelSize, stride, padding, outH, outW);
        if (argmax.Length < (long)planes * outH * outW) throw new ArgumentException($"{nameof(MaxPoolPaddedForward)}: argmax ({argmax.Length}) is too short.");
        RunPlanes(PlaneOp.MaxPadded, y, argmax, x, planes, height, width, kernelSize, stride, padding, outH, outW);
    }

    /// <summary>Average pooling (count_include_pad): the result of <see cref="AvgPoolForwardNaive{T}"/>, bit for bit.</summary>
    /// <exception cref="ArgumentException">Sizes are inconsistent or a span is too short.</exception>
    public static void AvgPoolForward<T>(Span<T> y, ReadOnlySpan<T> x, int planes, int height, int width,
        int kernelSize, int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckPool(nameof(AvgPoolForward), x.Length, y.Length, planes, height, width, kernelSize, stride, padding, outH, outW);
        RunPlanes(PlaneOp.AvgForward, y, default, x, planes, height, width, kernelSize, stride, padding, outH, outW);
    }

    /// <summary>Average-pooling backward: the result of <see cref="AvgPoolBackwardNaive{T}"/>, bit for bit.</summary>
    /// <exception cref="ArgumentException">Sizes are inconsistent or a span is too short.</exception>
    public static void AvgPoolBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, int planes, int height, int width,
        int kernelSize, int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckPool(nameof(AvgPoolBackward), dx.Length, dy.Length, planes, height, width, kernelSize, stride, padding, outH, outW);
        RunPlanes(PlaneOp.AvgBackward, dx, default, dy, planes, height, width, kernelSize, stride, padding, outH, outW);
    }

    /// <summary>Global average pooling: y[p] = Σ x[p, ·] / (H·W) for each of <paramref name="planes"/> planes of <paramref name="planeSize"/>.</summary>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    public static void GlobalAvgPoolForward<T>(Span<T> y, ReadOnlySpan<T> x, int planes, int planeSize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (planes < 1 || planeSize < 1 || x.Length < (long)planes * planeSize || y.Length < planes)
            throw new ArgumentException($"{nameof(GlobalAvgPoolForward)}: {planes} planes of {planeSize} need {(long)planes * planeSize} inputs and {planes} outputs, got {x.Length} and {y.Length}.");
        RunPlanes(PlaneOp.GlobalAvgForward, y, default, x, planes, 1, planeSize, 1, 1, 0, 1, 1);
    }

    /// <summary>Global average pooling backward: dx[p, ·] = dy[p] / (H·W).</summary>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    public static void GlobalAvgPoolBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, int planes, int planeSize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (planes < 1 || planeSize < 1 || dx.Length < (long)planes * planeSize || dy.Length < planes)
            throw new ArgumentException($"{nameof(GlobalAvgPoolBackward)}: {planes} planes of {planeSize} need {(long)planes * planeSize} gradients and {planes} inputs, got {dx.Length} and {dy.Length}.");
        RunPlanes(PlaneOp.GlobalAvgBackward, dx, default, dy, planes, 1, planeSize, 1, 1, 0, 1, 1);
    }

    private static void CheckPool(string kernel, int xLength, int yLength, int planes, int height, int width, int kernelSize, int stride,
        int padding, int outH, int outW)
    {
        if (planes < 1 || height < 1 || width < 1 || kernelSize < 1 || stride < 1 || padding < 0 || 2 * padding > kernelSize
            || height + 2 * padding < kernelSize || width + 2 * padding < kernelSize)
            throw new ArgumentException($"{kernel}: a {kernelSize}×{kernelSize} window, stride {stride}, padding {padding} (at most half the " +
                $"window) does not fit {planes} planes of {height}×{width}.");
        if (outH != (height + 2 * padding - kernelSize) / stride + 1 || outW != (width + 2 * padding - kernelSize) / stride + 1)
            throw new ArgumentException($"{kernel}: expected a {(height + 2 * padding - kernelSize) / stride + 1}×{(width + 2 * padding - kernelSize) / stride + 1} output, got {outH}×{outW}.");
        long inNeeded = (long)planes * height * width, outNeeded = (long)planes * outH * outW;
        if (xLength < inNeeded || yLength < outNeeded)
            throw new ArgumentException($"{kernel}: needs {inNeeded} input and {outNeeded} output elements, got {xLength} and {yLength}.");
    }

    private static unsafe void RunPlanes<T>(PlaneOp op, Span<T> dst, Span<int> argmax, ReadOnlySpan<T> src, int planes, int height, int width,
        int kernelSize, int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int parts = ElementwiseParts((int)Math.Min(int.MaxValue, (long)planes * height * width), planes);
        fixed (T* pd = dst, ps = src)
        fixed (int* pa = argmax)
        {
            var job = PlaneJob<T>.ForThisThread;
            job.Set(op, pd, pa, ps, planes, height, width, kernelSize, stride, padding, outH, outW);
            try
            {
                KernelThreads.Run(job, parts);
            }
            finally
            {
                job.Clear();
            }
        }
    }

    private sealed unsafe class PlaneJob<T> : ParallelJob where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static PlaneJob<T>? t_job;
        private PlaneOp _op;
        private T* _dst, _src;
        private int* _argmax;
        private int _planes, _h, _w, _k, _stride, _pad, _outH, _outW;

        public static PlaneJob<T> ForThisThread => t_job ??= new PlaneJob<T>();

        public void Set(PlaneOp op, T* dst, int* argmax, T* src, int planes, int h, int w, int k, int stride, int pad, int outH, int outW)
        {
            _op = op;
            _dst = dst;
            _argmax = argmax;
            _src = src;
            (_planes, _h, _w, _k, _stride, _pad, _outH, _outW) = (planes, h, w, k, stride, pad, outH, outW);
        }

        public void Clear()
        {
            _dst = null;
            _src = null;
            _argmax = null;
        }

        public override void Execute(int part, int parts)
        {
            (int first, int count) = KernelThreads.PartRange(_planes, part, parts, 1);
            for (int p = first; p < first + count; p++)
            {
                switch (_op)
                {
                    case PlaneOp.GlobalAvgForward:
                        _dst[p] = TensorPrimitives.Sum(new ReadOnlySpan<T>(_src + (nint)p * _w, _w)) / T.CreateChecked(_w);
                        break;
                    case PlaneOp.GlobalAvgBackward:
                        new Span<T>(_dst + (nint)p * _w, _w).Fill(_src[p] / T.CreateChecked(_w));
                        break;
                    default:
                        Window(p);
                        break;
                }
            }
        }

        /// <summary>One plane of a windowed operation; each window clipped to the image once.</summary>
        private void Window(int p)
        {
            int inPlane = _h * _w;
            T* x = _src + (nint)p * inPlane;
            T* y = _dst + (nint)p * _outH * _outW;
            if (_op == PlaneOp.AvgBackward)
            {
                // Here _src is dy (planes, OH, OW) and _dst is dx (planes, H, W).
                x = _src + (nint)p * _outH * _outW;
                y = _dst + (nint)p * inPlane;
                new Span<T>(y, inPlane).Clear();
            }
            T divisor = T.CreateChecked(_k * _k);
            for (int oh = 0; oh < _outH; oh++)
            {
                int h0 = oh * _stride - _pad, hStart = Math.Max(h0, 0), hEnd = Math.Min(h0 + _k, _h);
                for (int ow = 0; ow < _outW; ow++)
                {
                    int w0 = ow * _stride - _pad, wStart = Math.Max(w0, 0), wEnd = Math.Min(w0 + _k, _w);
                    int o = oh * _outW + ow;
                    switch (_op)
                    {
                        case PlaneOp.MaxPadded:
                        {
                            int best = hStart * _w + wStart;
                            T bestValue = x[best];
                            for (int ih = hStart; ih < hEnd; ih++)
                            for (int iw = wStart; iw < wEnd; iw++)
                                if (x[ih * _w + iw] > bestValue) { bestValue = x[ih * _w + iw]; best = ih * _w + iw; }
                            y[o] = bestValue;
                            _argmax[(nint)p * _outH * _outW + o] = p * inPlane + best;
                            break;
                        }
                        case PlaneOp.AvgForward:
                        {
                            T sum = T.Zero;
                            for (int ih = hStart; ih < hEnd; ih++)
                            for (int iw = wStart; iw < wEnd; iw++) sum += x[ih * _w + iw];
                            y[o] = sum / divisor;
                            break;
                        }
                        default:
                        {
                            T g = x[o] / divisor;
                            for (int ih = hStart; ih < hEnd; ih++)
                            for (int iw = wStart; iw < wEnd; iw++) y[ih * _w + iw] += g;
                            break;
                        }
                    }
                }
            }
        }
    }
}

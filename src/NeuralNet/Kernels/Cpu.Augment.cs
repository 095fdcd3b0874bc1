using System.Numerics;
using System.Runtime.CompilerServices;

namespace NeuralNet.Kernels;

// Affine warps of image batches with bilinear sampling, for data augmentation. Each example has its own inverse transform
// (six coefficients: source = A·destination + b in pixel coordinates); outside the image counts as 0. Examples are split
// over the kernel threads in whole examples, and an example's pixels depend only on its input and coefficients, so the
// output is the same bits for any thread count.
internal static partial class Cpu
{
    /// <summary>The number of coefficients per example: sx = c0·j + c1·i + c2, sy = c3·j + c4·i + c5 (i the row, j the column).</summary>
    internal const int AffineCoefficients = 6;

    /// <summary>
    /// Reference warp of x (examples, C, H, W) into y: y[e, c, i, j] = bilinear(x[e, c], sy, sx) with (sx, sy) from the
    /// example's coefficients; samples outside the image read 0.
    /// </summary>
    public static void AffineWarpNaive<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<double> coefficients, int examples, int channels,
        int height, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int e = 0; e < examples; e++)
        {
            ReadOnlySpan<double> k = coefficients.Slice(e * AffineCoefficients, AffineCoefficients);
            for (int c = 0; c < channels; c++)
            {
                int plane = (e * channels + c) * height * width;
                for (int i = 0; i < height; i++)
                for (int j = 0; j < width; j++)
                {
                    double sx = k[0] * j + k[1] * i + k[2], sy = k[3] * j + k[4] * i + k[5];
                    y[plane + i * width + j] = T.CreateChecked(Bilinear(x.Slice(plane, height * width), height, width, sy, sx));
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Bilinear<T>(ReadOnlySpan<T> plane, int height, int width, double sy, double sx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!(sy > -1 && sy < height && sx > -1 && sx < width)) return 0;
        int y0 = (int)Math.Floor(sy), x0 = (int)Math.Floor(sx);
        double fy = sy - y0, fx = sx - x0;
        double v00 = Pixel(plane, height, width, y0, x0), v01 = Pixel(plane, height, width, y0, x0 + 1);
        double v10 = Pixel(plane, height, width, y0 + 1, x0), v11 = Pixel(plane, height, width, y0 + 1, x0 + 1);
        return (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Pixel<T>(ReadOnlySpan<T> plane, int height, int width, int i, int j) where T : unmanaged, IFloatingPointIeee754<T>
        => (uint)i < (uint)height && (uint)j < (uint)width ? double.CreateTruncating(plane[i * width + j]) : 0;

    /// <summary>The warp of <see cref="AffineWarpNaive{T}"/>, the same bits, with examples split over the kernel threads.</summary>
    /// <exception cref="ArgumentException">A span is too short for the sizes.</exception>
    public static unsafe void AffineWarp<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<double> coefficients, int examples, int channels,
        int height, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long total = (long)examples * channels * height * width;
        if (examples < 1 || channels < 1 || height < 1 || width < 1 || x.Length < total || y.Length < total
            || coefficients.Length < (long)examples * AffineCoefficients)
            throw new ArgumentException($"{nameof(AffineWarp)}: {examples} examples of ({channels}, {height}, {width}) need {total} input and " +
                $"output elements and {(long)examples * AffineCoefficients} coefficients; got {x.Length}, {y.Length} and {coefficients.Length}.");
        int parts = ElementwiseParts((int)Math.Min(int.MaxValue, total), examples);
        fixed (T* py = y, px = x)
        fixed (double* pk = coefficients)
        {
            var job = WarpJob<T>.ForThisThread;
            job.Y = py;
            job.X = px;
            job.K = pk;
            (job.Examples, job.Channels, job.Height, job.Width) = (examples, channels, height, width);
            try
            {
                KernelThreads.Run(job, parts);
            }
            finally
            {
                job.Y = job.X = null;
                job.K = null;
            }
        }
    }

    private sealed unsafe class WarpJob<T> : ParallelJob where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static WarpJob<T>? t_job;
        public T* Y, X;
        public double* K;
        public int Examples, Channels, Height, Width;

        public static WarpJob<T> ForThisThread => t_job ??= new WarpJob<T>();

        public override void Execute(int part, int parts)
        {
            (int first, int count) = KernelThreads.PartRange(Examples, part, parts, 1);
            int planeSize = Height * Width;
            for (int e = first; e < first + count; e++)
            {
                double* k = K + (nint)e * AffineCoefficients;
                for (int c = 0; c < Channels; c++)
                {
                    nint plane = ((nint)e * Channels + c) * planeSize;
                    var src = new ReadOnlySpan<T>(X + plane, planeSize);
                    T* dst = Y + plane;
                    for (int i = 0; i < Height; i++)
                    for (int j = 0; j < Width; j++)
                    {
                        double sx = k[0] * j + k[1] * i + k[2], sy = k[3] * j + k[4] * i + k[5];
                        dst[i * Width + j] = T.CreateChecked(Bilinear(src, Height, Width, sy, sx));
                    }
                }
            }
        }
    }
}

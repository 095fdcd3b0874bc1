using K = NeuralNet.Kernels.Cpu;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Tests.Kernels;

/// <summary>The fused activation backward kernels against the elementwise formulas, for every tail length.</summary>
public class ActivationKernelTests
{
    [Fact]
    public void Float_MatchFormulas_ForLengths0To70()
    {
        var rng = new RandomGenerator(11);
        for (int n = 0; n <= 70; n++)
        {
            float[] x = new float[n], y = new float[n], dy = new float[n];
            for (int i = 0; i < n; i++)
            {
                x[i] = (float)(rng.NextDouble() * 4 - 2);
                y[i] = (float)rng.NextDouble();
                dy[i] = (float)(rng.NextDouble() * 2 - 1);
            }
            if (n > 3) x[3] = 0f; // the derivative at exactly 0 is 0

            float[] dx = new float[n];
            K.ReluBackward<float>(dx, dy, x);
            for (int i = 0; i < n; i++) dx[i].Should().Be(x[i] > 0 ? dy[i] : 0f, $"ReLU at {i} of {n}");

            // The three-pass TensorPrimitives form the activation modules use: identical bits.
            float[] expected = new float[n];
            TensorPrimitives.Subtract(1f, y, expected);
            TensorPrimitives.Multiply(expected, y, expected);
            TensorPrimitives.Multiply(expected, dy, expected);
            K.SigmoidBackward<float>(dx, dy, y);
            dx.Should().Equal(expected, $"sigmoid, length {n}");

            TensorPrimitives.Multiply(y, y, expected);
            TensorPrimitives.Subtract(1f, expected, expected);
            TensorPrimitives.Multiply(expected, dy, expected);
            K.TanhBackward<float>(dx, dy, y);
            dx.Should().Equal(expected, $"tanh, length {n}");
        }
    }

    [Fact]
    public void Double_MatchFormulas_AndLengthMismatchThrows()
    {
        double[] y = [0.1, 0.5, 0.9, 0.25, 0.75, 0.3, 0.6, 0.2, 0.8, 0.4, 0.05], dy = [1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11];
        double[] dx = new double[y.Length];
        K.SigmoidBackward<double>(dx, dy, y);
        for (int i = 0; i < y.Length; i++) dx[i].Should().Be((1 - y[i]) * y[i] * dy[i]);
        K.ReluBackward<double>(dx, dy, dy);
        for (int i = 0; i < y.Length; i++) dx[i].Should().Be(dy[i] > 0 ? dy[i] : 0);
        FluentActions.Invoking(() => K.TanhBackward<double>(dx, dy, new double[3]))
            .Should().Throw<ArgumentException>().WithMessage("*TanhBackward*11, 11 and 3*");
    }
}

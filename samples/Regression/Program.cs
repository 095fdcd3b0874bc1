// Regression: fits Friedman's function #1 (5 inputs, one output, unit-variance noise) with a small MLP and MSE, from data
// brought in as plain arrays. Usage: Regression [seed]
using System.Globalization;
using NeuralNet.Samples.Regression;

ulong seed = args.Length > 0 ? ulong.Parse(args[0], CultureInfo.InvariantCulture) : 7;
var result = RegressionExample.Run(seed, log: Console.WriteLine);
Console.WriteLine(FormattableString.Invariant(
    $"Test MSE {result.TestMse:F3} (RMSE {Math.Sqrt(result.TestMse):F3}, MAE {result.TestMae:F3}, R² {result.TestR2:F4}); the noise alone gives MSE {result.NoiseVariance:F1}."));

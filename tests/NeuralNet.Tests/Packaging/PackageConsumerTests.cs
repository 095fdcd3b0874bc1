using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using NeuralNet.Tests.TestSupport;

namespace NeuralNet.Tests.Packaging;

/// <summary>
/// Packs the library with <c>dotnet pack</c> and proves the .nupkg is usable from another .NET project:
/// a tiny consumer restores it from a local folder feed, builds and runs.
/// </summary>
public class PackageConsumerTests
{
    private static readonly string Configuration =
        typeof(PackageConsumerTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    [Fact]
    public void PackedLibrary_IsUsableFromAConsumerProject()
    {
        string work = Path.Combine(Path.GetTempPath(), "neuralnet-pack-" + Guid.NewGuid().ToString("N"));
        string feed = Path.Combine(work, "feed");
        string consumer = Path.Combine(work, "consumer");
        // A version unique to this run: NuGet caches packages by id and version, so a fixed one would be served stale.
        string version = "0.0.0-ct" + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", System.Globalization.CultureInfo.InvariantCulture);
        Directory.CreateDirectory(feed);
        Directory.CreateDirectory(consumer);
        try
        {
            // --no-build packs the binaries the test run already built, so nothing races the running build.
            Run(Path.Combine(RepoPaths.Root, "src", "NeuralNet"),
                "pack", "-c", Configuration, "--no-build", "-o", feed, "-p:Version=" + version);

            string nupkg = Path.Combine(feed, $"NeuralNet.{version}.nupkg");
            File.Exists(nupkg).Should().BeTrue("dotnet pack writes the package");
            File.Exists(Path.Combine(feed, $"NeuralNet.{version}.snupkg")).Should().BeTrue("a symbols package is produced");
            using (var zip = ZipFile.OpenRead(nupkg))
            {
                var names = zip.Entries.Select(e => e.FullName).ToList();
                names.Should().Contain("README.md");
                names.Should().Contain("LICENSE", "the MIT licence text ships with the package");
                names.Should().Contain("lib/net10.0/NeuralNet.dll");
                names.Should().Contain("lib/net10.0/NeuralNet.xml", "XML docs ship with the package");
                using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
                string spec = nuspec.ReadToEnd();
                spec.Should().Contain("System.Numerics.Tensors");
                spec.Should().Contain("<license type=\"expression\">MIT</license>");
                spec.Should().NotContain("example.invalid", "no placeholder repository address is published");
                System.Text.RegularExpressions.Regex.Matches(spec, "<dependency ").Count
                    .Should().Be(1, "the core package depends on System.Numerics.Tensors only");
            }

            File.WriteAllText(Path.Combine(consumer, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(consumer, "Consumer.csproj"), $$"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="NeuralNet" Version="{{version}}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(consumer, "Program.cs"), ConsumerProgram);

            string output = Run(consumer, "run", "-c", "Release");
            output.Should().Contain("consumer ok");
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
            // Drop this run's copy from the global package cache so runs do not pile up there.
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            try { Directory.Delete(Path.Combine(cache, "neuralnet", version), recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    // One file importing both NeuralNet and System.Numerics.Tensors (NdArray<T> does not collide with Tensor<T>), using the
    // manual loop, StateDict, the summary and the Trainer on float targets.
    private const string ConsumerProgram = """
        using NeuralNet;
        using NeuralNet.Data;
        using NeuralNet.Losses;
        using NeuralNet.Modules;
        using NeuralNet.Modules.Activations;
        using NeuralNet.Optimization;
        using NeuralNet.Optimization.Schedules;
        using NeuralNet.Training;
        using System.Numerics.Tensors;

        var rng = new RandomGenerator(7);
        var model = new Sequential<float>([4], new Dense<float>(4, 8, random: rng), new ReLU<float>(), new Dense<float>(8, 3, random: rng));
        var x = new NdArray<float>(2, 4);
        for (int i = 0; i < x.Length; i++) x.Data[i] = (float)rng.NextGaussian();
        var loss = new SoftmaxCrossEntropyLoss<float>();
        float before = loss.Forward(model.Forward(x, training: true), [0, 2]);
        for (int step = 0; step < 50; step++)
        {
            model.ZeroGrad();
            loss.Forward(model.Forward(x, training: true), [0, 2]);
            model.Backward(loss.Backward());
            foreach (var p in model.Parameters)
                TensorPrimitives.MultiplyAdd(p.Gradient.AsSpan(), -0.1f, p.Value.AsSpan(), p.Value.AsSpan());
        }
        float after = loss.Forward(model.Forward(x), [0, 2]);
        if (!(after < before)) throw new Exception($"consumer FAILED: loss {before} -> {after}");

        // System.Numerics.Tensors' own Tensor<T> in the same file.
        var tensor = Tensor.Create(new float[] { 1, 2, 3, 4 }, [2, 2]);
        if (tensor.FlattenedLength != 4) throw new Exception("consumer FAILED: Tensor<T>");

        // StateDict with PyTorch names, loaded into a second model of the same structure.
        var state = model.StateDict();
        if (string.Join(",", state.Keys) != "0.weight,0.bias,2.weight,2.bias") throw new Exception("consumer FAILED: names " + string.Join(",", state.Keys));
        var copy = new Sequential<float>([4], new Dense<float>(4, 8), new ReLU<float>(), new Dense<float>(8, 3));
        copy.LoadStateDict(state, strict: true);
        if (copy.Forward(x).Data[0] != model.Forward(x).Data[0]) throw new Exception("consumer FAILED: LoadStateDict");

        // The summary.
        var summary = model.Summary();
        if (summary.TrainableParameters != 4 * 8 + 8 + 8 * 3 + 3 || !summary.ToString().Contains("Total params: 67")) throw new Exception("consumer FAILED: summary");

        // Float targets: y = 2x₀ − x₁ from plain arrays, trained with MSE.
        var features = new float[64, 2];
        var targets = new float[64];
        for (int i = 0; i < 64; i++)
        {
            features[i, 0] = (float)rng.NextDouble();
            features[i, 1] = (float)rng.NextDouble();
            targets[i] = 2 * features[i, 0] - features[i, 1];
        }
        var data = Dataset.FromArrays(features, targets);
        var regressor = new Sequential<float>([2], new Dense<float>(2, 1, random: rng));
        // Adam with a cosine schedule after a linear warm-up: the schedule attaches to the optimizer and owns its rate.
        var optimizer = new Adam<float>(regressor, learningRate: 0.1);
        var schedule = new LinearWarmupSchedule(new CosineAnnealingSchedule(optimizer, maxSteps: 100, minLearningRate: 1e-3), warmupSteps: 5);
        if (optimizer.Schedule != schedule) throw new Exception("consumer FAILED: the warm-up is not the optimizer's schedule");
        var trainer = new Trainer<float>(regressor, new MseLoss<float>(), optimizer, random: rng);
        trainer.Fit(data, new TrainerOptions { Epochs = 100, BatchSize = 16 });
        double mse = trainer.EvaluateTargets(data).Metrics.MeanSquaredError;
        if (!(mse < 1e-3)) throw new Exception($"consumer FAILED: regression MSE {mse}");

        Console.WriteLine($"consumer ok: loss {before:F4} -> {after:F4}, regression MSE {mse:E2}");
        """;

    private static string Run(string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Isolate the consumer from the repository's build settings and the running test host.
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment.Remove("MSBuildExtensionsPath");
        psi.Environment.Remove("MSBUILD_EXE_PATH");
        psi.Environment.Remove("MSBuildSDKsPath");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', args)} did not finish in 4 minutes.");
        }
        string all = stdout.Result + stderr.Result;
        p.ExitCode.Should().Be(0, $"dotnet {string.Join(' ', args)} in {workingDirectory} must succeed; output:\n{all}");
        return all;
    }
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using NeuralNet;
using NeuralNet.Evaluation;
using NeuralNet.Models;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Onnx;
using NeuralNet.Serialization;
using NeuralNet.Training;

namespace MnistSample.Commands;

/// <summary>
/// The <c>predict</c> and <c>export</c> subcommands: use a trained model (a NeuralNet <c>.safetensors</c> model or an
/// <c>.onnx</c> file) on digit images, and convert a NeuralNet model to ONNX or to a PyTorch state dict.
/// </summary>
public static class InteropCommands
{
    /// <summary>Adds the subcommands to the root command.</summary>
    /// <param name="root">The sample's root command.</param>
    public static void AddTo(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.Subcommands.Add(Predict());
        root.Subcommands.Add(Export());
    }

    private static Command Predict()
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "The model: a NeuralNet model (.safetensors, as training writes to <output>/model.safetensors) or an ONNX file (.onnx).",
            HelpName = "file",
            Required = true,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of one line per image." };
        var images = new Argument<string[]>("images")
        {
            Description = "PNG, JPEG or BMP images of one digit each, any size, dark on light or light on dark.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("predict", "Classifies digit images with a trained model: prints the class and the top-3 probabilities of each.")
        {
            model, json, images,
        };
        command.SetAction(parse => Guard(parse, "predict", () =>
            RunPredict(parse.GetValue(model)!, parse.GetValue(images)!, parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error)));
        return command;
    }

    private static Command Export()
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "A NeuralNet model file (.safetensors), as training writes to <output>/model.safetensors.",
            HelpName = "file",
            Required = true,
        };
        var onnx = new Option<string?>("--onnx") { Description = "Write the model as ONNX (opset 13, dynamic batch) to this file.", HelpName = "out.onnx" };
        var torch = new Option<string?>("--safetensors-torch")
        {
            Description = "Write the weights as a PyTorch nn.Sequential state dict (0.weight, 0.bias, ...) in safetensors to this file.",
            HelpName = "out.safetensors",
        };
        var command = new Command("export", "Converts a NeuralNet model to ONNX and/or a PyTorch state dict.") { model, onnx, torch };
        command.Validators.Add(r =>
        {
            if (r.GetValue(onnx) is null && r.GetValue(torch) is null) r.AddError("export needs --onnx and/or --safetensors-torch.");
        });
        command.SetAction(parse => Guard(parse, "export", () =>
        {
            var m = LoadModel(parse.GetValue(model)!);
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(onnx) is { } onnxPath)
            {
                OnnxExporter.Export(m, onnxPath);
                output.WriteLine($"wrote {onnxPath} (ONNX opset {OnnxExporter.OpsetVersion}, input 'input' (batch, {string.Join(", ", m.InputShape)}), output 'output')");
            }
            if (parse.GetValue(torch) is { } torchPath)
            {
                TorchStateDict.Save(m, torchPath);
                output.WriteLine($"wrote {torchPath} (PyTorch state dict: {string.Join(", ", TorchStateDict.Entries(m).Select(e => e.Name))})");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>Loads a NeuralNet model, or imports an ONNX one when the file name ends in <c>.onnx</c>.</summary>
    /// <param name="path">The model file.</param>
    public static Sequential<float> LoadModel(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: the model file does not exist.", path);
        return path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) ? OnnxImporter.Load(path) : ModelSerializer.Load(path);
    }

    /// <summary>How to read the model's outputs as probabilities: its last layer tells (softmax, sigmoid or logits).</summary>
    /// <param name="model">The model.</param>
    public static OutputActivation OutputOf(Sequential<float> model) => model.Layers[^1] switch
    {
        Softmax<float> => OutputActivation.Softmax,
        Sigmoid<float> => OutputActivation.Sigmoid,
        _ => OutputActivation.Logits,
    };

    private static int RunPredict(string modelPath, string[] images, bool json, TextWriter output, TextWriter error)
    {
        var model = LoadModel(modelPath);
        long inputSize = model.InputShape.Aggregate(1L, (a, d) => a * d);
        if (inputSize != DigitImage.Size * DigitImage.Size)
            throw new InvalidDataException($"{modelPath}: the model takes inputs of shape ({string.Join(", ", model.InputShape)}), not a 28×28 image.");
        var predictor = new Predictor<float>(model, OutputOf(model));
        var results = new List<object>();
        int failures = 0;
        foreach (var image in images)
        {
            float[] pixels;
            try
            {
                pixels = DigitImage.Load(image);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                failures++;
                error.WriteLine($"mnist predict: error: {e.Message}");
                if (json) results.Add(new { file = image, error = e.Message });
                continue;
            }
            double[] p = predictor.PredictProbabilities(pixels);
            var top = Enumerable.Range(0, p.Length).OrderByDescending(i => p[i]).ThenBy(i => i).Take(3).ToArray();
            if (json)
            {
                results.Add(new { file = image, @class = top[0], top3 = top.Select(i => new { @class = i, probability = Math.Round(p[i], 6) }).ToArray() });
            }
            else
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{image}: {top[0]}  ({string.Join(", ", top.Select(i => $"{i}: {p[i]:F3}"))})"));
            }
        }
        if (json) output.WriteLine(JsonSerializer.Serialize(results));
        return failures == 0 ? 0 : Cli.CommandLine.RunError;
    }

    // One clear error line and exit code 1 for anything that goes wrong after the command line was accepted.
    private static int Guard(ParseResult parse, string name, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or FormatException
            or NotSupportedException or ArgumentException or OnnxImportException)
        {
            parse.InvocationConfiguration.Error.WriteLine($"mnist {name}: error: {e.Message}");
            return Cli.CommandLine.RunError;
        }
    }
}

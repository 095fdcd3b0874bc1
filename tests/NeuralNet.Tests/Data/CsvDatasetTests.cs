using NeuralNet.Data;
using NeuralNet.Tests.Serialization;

namespace NeuralNet.Tests.Data;

public class CsvDatasetTests
{
    private static string Row(int label, int pixelValue = 0, int pixels = 784) =>
        label + "," + string.Join(",", Enumerable.Repeat(pixelValue, pixels));

    private static string WriteLines(TempDirectory dir, string name, params string[] lines)
    {
        string p = dir.File(name);
        File.WriteAllText(p, string.Join("\n", lines) + "\n");
        return p;
    }

    [Fact]
    public void Csv_RoundTripsMnistBitExactly()
    {
        using var dir = new TempDirectory();
        var sample = MnistFixture.Data.Test.Take(200);
        string path = dir.File("mnist.csv");
        CsvDataset.Write(path, sample, header: true);
        File.ReadLines(path).First().Should().StartWith("label,pixel1,pixel2,").And.EndWith(",pixel784");
        File.ReadLines(path).Skip(1).First().Split(',').Should().HaveCount(785).And.StartWith("7");
        var back = CsvDataset.Read(path);
        back.Count.Should().Be(200);
        back.Labels.Should().Equal(sample.Labels);
        back.Features.Data.AsSpan().SequenceEqual(sample.Features.Data).Should().BeTrue("p/255 from CSV equals the IDX scaling bit for bit");
    }

    [Fact]
    public void Csv_HeaderOptionalAndWhitespaceTolerated()
    {
        using var dir = new TempDirectory();
        string p = WriteLines(dir, "a.csv", Row(3, 255, 4), "", " 9 , 0,0,0,51\r");
        var ds = CsvDataset.Read(p, featureCount: 4);
        ds.Labels.Should().Equal(3, 9);
        ds.Features.Data.Should().Equal(1, 1, 1, 1, 0, 0, 0, 0.2f);
        string h = WriteLines(dir, "h.csv", "label,a,b,c,d", Row(1, 0, 4));
        CsvDataset.Read(h, featureCount: 4).Count.Should().Be(1);
        FluentActions.Invoking(() => CsvDataset.Read(h, CsvHeader.Absent, featureCount: 4))
            .Should().Throw<InvalidDataException>().WithMessage($"{h}: line 1 field 1 (the label) is 'label', not an integer.");
    }

    [Fact]
    public void Csv_FirstRowWithBadLabel_IsDataNotAHeader()
    {
        // '7a' in the first row used to make the whole row a "header", silently dropping one example.
        using var dir = new TempDirectory();
        string p = WriteLines(dir, "bad.csv", "7a,0,0,0,51", Row(1, 0, 4), Row(2, 0, 4));
        FluentActions.Invoking(() => CsvDataset.Read(p, featureCount: 4)).Should().Throw<InvalidDataException>()
            .WithMessage($"{p}: line 1 field 1 (the label) is '7a', not an integer. The line is not taken as a header*CsvHeader.Present*");
        string mixed = WriteLines(dir, "mixed.csv", "label,a,b,c,5", Row(1, 0, 4));
        FluentActions.Invoking(() => CsvDataset.Read(mixed, featureCount: 4)).Should().Throw<InvalidDataException>().WithMessage("*line 1 field 1*'label'*");
        CsvDataset.Read(mixed, CsvHeader.Present, featureCount: 4).Count.Should().Be(1);
        string header = WriteLines(dir, "header.csv", "label, pixel0 ,pixel1,pixel2,pixel3", Row(1, 0, 4));
        CsvDataset.Read(header, featureCount: 4).Labels.Should().Equal(1);
    }

    [Theory]
    [InlineData(783, 0, 0, "*line 2 has 784 fields; expected 785 (a label and 784 pixels).")]
    [InlineData(785, 0, 0, "*line 2 has 786 fields*")]
    [InlineData(784, 300, 0, "*line 2 field 2 has pixel 300; pixels must be 0–255.")]
    [InlineData(784, -1, 0, "*line 2 field 2 has pixel -1*")]
    [InlineData(784, 0, 10, "*line 2 field 1 has label 10; labels must be 0–9.")]
    [InlineData(784, 0, -1, "*line 2 field 1 has label -1*")]
    public void Csv_BadRows_NameFileLineAndField(int pixels, int pixel, int label, string message)
    {
        using var dir = new TempDirectory();
        string p = WriteLines(dir, "bad.csv", Row(1), Row(label, pixel, pixels), Row(2));
        FluentActions.Invoking(() => CsvDataset.Read(p)).Should().Throw<InvalidDataException>().WithMessage(p + message);
    }

    [Fact]
    public void Csv_NonNumericAndNonFinite_Fail()
    {
        using var dir = new TempDirectory();
        string p = WriteLines(dir, "nn.csv", Row(1), Row(4).Replace(",0,0,", ",0,abc,"));
        FluentActions.Invoking(() => CsvDataset.Read(p)).Should().Throw<InvalidDataException>().WithMessage($"{p}: line 2 field 3 is 'abc', not a finite number.");
        string q = WriteLines(dir, "nan.csv", Row(1), "x" + Row(4)[1..]);
        FluentActions.Invoking(() => CsvDataset.Read(q)).Should().Throw<InvalidDataException>().WithMessage($"{q}: line 2 field 1 (the label) is 'x'*");
        string r = WriteLines(dir, "inf.csv", Row(1).Replace("1,0,", "1,NaN,"));
        FluentActions.Invoking(() => CsvDataset.Read(r, CsvHeader.Absent)).Should().Throw<InvalidDataException>().WithMessage("*line 1 field 2 is 'NaN', not a finite number.");
    }

    [Fact]
    public void Csv_EmptyOrEndlessLine_Fails()
    {
        using var dir = new TempDirectory();
        string empty = WriteLines(dir, "e.csv", "label,p");
        FluentActions.Invoking(() => CsvDataset.Read(empty)).Should().Throw<InvalidDataException>().WithMessage("*no data rows*");
        string endless = dir.File("endless.csv");
        File.WriteAllText(endless, new string('1', 200_000));
        FluentActions.Invoking(() => CsvDataset.Read(endless, featureCount: 4)).Should().Throw<InvalidDataException>().WithMessage("*line 1 is longer than*");
        FluentActions.Invoking(() => CsvDataset.Read(dir.File("missing.csv"))).Should().Throw<FileNotFoundException>();
    }

    [Fact]
    public void Csv_WriteRejectsFeaturesOutsideUnitRange()
    {
        using var dir = new TempDirectory();
        var ds = MnistTests.Tiny(3); // features up to 2 and down to -2
        FluentActions.Invoking(() => CsvDataset.Write(dir.File("x.csv"), ds)).Should().Throw<ArgumentException>().WithMessage("*feature 1 of example 1*is -1*");
        File.Exists(dir.File("x.csv")).Should().BeFalse();
    }

    [Fact]
    public void TextPair_RoundTripsBitExactly()
    {
        using var dir = new TempDirectory();
        var sample = MnistFixture.Data.Train.Take(100);
        string img = dir.File("images.txt"), lab = dir.File("labels.txt");
        TextPairDataset.Write(img, lab, sample);
        File.ReadLines(lab).First().Should().Be("0 0 0 0 0 1 0 0 0 0");
        File.ReadLines(img).First().Split(' ').Should().HaveCount(784);
        var back = TextPairDataset.Read(img, lab);
        back.Labels.Should().Equal(sample.Labels);
        back.Features.Data.AsSpan().SequenceEqual(sample.Features.Data).Should().BeTrue();
    }

    [Fact]
    public void TextPair_AcceptsFloatOneHotAndTabs()
    {
        using var dir = new TempDirectory();
        string img = WriteLines(dir, "i.txt", "0 0.5\t1", "1  1 0.25");
        string lab = WriteLines(dir, "l.txt", "0.0 1.0 0.0", "1 0 0");
        var ds = TextPairDataset.Read(img, lab, featureCount: 3, classCount: 3);
        ds.Labels.Should().Equal(1, 0);
        ds.Features.Data.Should().Equal(0, 0.5f, 1, 1, 1, 0.25f);
    }

    [Theory]
    [InlineData("0 0.5", "0 1 0", "i.txt: line 2 has 2 values; expected 3.")]
    [InlineData("0 0.5 1 1", "0 1 0", "i.txt: line 2 has more than 3 values.")]
    [InlineData("0 1.5 1", "0 1 0", "i.txt: line 2 value 2 is 1.5; features must be in [0, 1].")]
    [InlineData("0 x 1", "0 1 0", "i.txt: line 2 value 2 is 'x', not a finite number.")]
    [InlineData("0 0 1", "0 1 1", "l.txt: line 2 has 1 at values 2 and 3*")]
    [InlineData("0 0 1", "0 0 0", "l.txt: line 2 is all zeros*")]
    [InlineData("0 0 1", "0 0.5 0", "l.txt: line 2 value 2 is '0.5'*")]
    [InlineData("0 0 1", "0 1", "l.txt: line 2 has 2 values; expected a one-hot row of 3.")]
    [InlineData("0 0 1", "0 1 0\n1 0 0", "TextPairDataset: *holds 2 images but*holds 3 labels.")]
    public void TextPair_BadLines_NameFileAndLine(string secondImage, string secondLabel, string message)
    {
        using var dir = new TempDirectory();
        string img = WriteLines(dir, "i.txt", "1 1 1", secondImage);
        string lab = WriteLines(dir, "l.txt", "1 0 0", secondLabel);
        FluentActions.Invoking(() => TextPairDataset.Read(img, lab, featureCount: 3, classCount: 3))
            .Should().Throw<InvalidDataException>().WithMessage(message.StartsWith("TextPair", StringComparison.Ordinal) ? message : "*" + message);
    }
}

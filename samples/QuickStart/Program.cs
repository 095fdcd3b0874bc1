Console.WriteLine("QuickStart: placeholder until modules land");

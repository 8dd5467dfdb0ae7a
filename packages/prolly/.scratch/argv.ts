console.log(JSON.stringify({ execArgv: process.execArgv, argv: process.argv, url: import.meta.url }))

throw new Error('msgpackr-extract disabled: see package.json description');
